import CNetlink
import VFWireTypes

extension Netlink {
    /// A VF's entry of the PF's table (IFLA_VFINFO_LIST; libnl asks with RTEXT_FILTER_VF).
    public func vfConfig(pf ifindex: Int32, vf: Int) throws(NetlinkError) -> VFConfig? {
        var l: OpaquePointer?
        try check(rtnl_link_get_kernel(sock, ifindex, nil, &l), "cannot read the VF table of link \(ifindex)")
        defer { rtnl_link_put(l) }
        guard let v = rtnl_link_vf_get(l, UInt32(vf)) else { return nil }
        defer { rtnl_link_vf_put(v) }
        var c = VFConfig()
        var addr: OpaquePointer?
        if rtnl_link_vf_get_addr(v, &addr) == 0, let addr, nl_addr_get_len(addr) >= 6 {
            let p = nl_addr_get_binary_addr(addr)!.assumingMemoryBound(to: UInt8.self)
            c.mac = MACAddress(bytes: Array(UnsafeBufferPointer(start: p, count: 6)))!
        }
        var vlans: UnsafeMutablePointer<nl_vf_vlans_t>?
        // No VLAN attribute (or VLAN 0 in the legacy one) means untagged.
        if rtnl_link_vf_get_vlans(v, &vlans) == 0, let vlans, vlans.pointee.size > 0 {
            let first = vlans.pointee.vlans[0]
            c.vlan = VLAN(Int(first.vf_vlan)) ?? .untagged
            c.qos = UInt8(truncatingIfNeeded: first.vf_vlan_qos)
            c.vlanProto = VLANProto(ethertype: first.vf_vlan_proto) ?? .dot1Q
        }
        var rate = nl_vf_rate()
        if rtnl_link_vf_get_rate(v, &rate) == 0 {
            c.minTxRate = rate.min_tx_rate
            c.maxTxRate = rate.api == Int32(RTNL_LINK_VF_RATE_API_OLD.rawValue) ? rate.rate : rate.max_tx_rate
        }
        var u: UInt32 = 0
        if rtnl_link_vf_get_spoofchk(v, &u) == 0 { c.spoofchk = u != 0 }
        if rtnl_link_vf_get_trust(v, &u) == 0 { c.trust = u != 0 }
        if rtnl_link_vf_get_linkstate(v, &u) == 0 { c.linkState = VFLinkState(kernelValue: u) ?? .auto }
        return c
    }

    /// Sets one field of VF `vf` through the PF with `ifindex`.
    public func setVF(pf ifindex: Int32, vf: Int, _ s: VFSetting, what: @autoclosure () -> String) throws(NetlinkError) {
        let orig = rtnl_link_alloc()!
        let ch = rtnl_link_alloc()!
        let v = rtnl_link_vf_alloc()!
        defer { rtnl_link_vf_put(v); rtnl_link_put(orig); rtnl_link_put(ch) }
        rtnl_link_set_ifindex(orig, ifindex)
        // Without the index libnl silently leaves the VF out of the request.
        rtnl_link_vf_set_index(v, UInt32(vf))
        switch s {
        case .mac(let m):
            let a = m.bytes.withUnsafeBytes { nl_addr_build(AF_LLC, $0.baseAddress, 6) }!
            rtnl_link_vf_set_addr(v, a)
            nl_addr_put(a)
        case .vlan(let setting):
            var list: UnsafeMutablePointer<nl_vf_vlans_t>?
            try check(rtnl_link_vf_vlan_alloc(&list, 1), "cannot build a VF VLAN request")
            list!.pointee.vlans[0].vf_vlan = UInt32(setting.vlan.id)
            list!.pointee.vlans[0].vf_vlan_qos = UInt32(setting.qos)
            // libnl copies the protocol into IFLA_VF_VLAN_LIST as it is given, but the kernel reads
            // it big-endian; 802.1Q in host order makes libnl use the legacy IFLA_VF_VLAN, which has
            // no protocol and which every driver takes.
            list!.pointee.vlans[0].vf_vlan_proto = setting.proto == .dot1Q ? 0x8100 : VLANProto.dot1ad.ethertype.bigEndian
            rtnl_link_vf_set_vlans(v, list)
            rtnl_link_vf_vlan_put(list)
        case .rate(let r):
            var rate = nl_vf_rate()
            rate.api = Int32(RTNL_LINK_VF_RATE_API_NEW.rawValue)
            rate.min_tx_rate = r.min
            rate.max_tx_rate = r.max
            rtnl_link_vf_set_rate(v, &rate)
        case .spoofchk(let on): rtnl_link_vf_set_spoofchk(v, on ? 1 : 0)
        case .trust(let on): rtnl_link_vf_set_trust(v, on ? 1 : 0)
        case .linkState(let l): rtnl_link_vf_set_linkstate(v, l.kernelValue)
        }
        try check(rtnl_link_vf_add(ch, v), "cannot build a VF request")
        try check(rtnl_link_change(sock, orig, ch, 0), what())
    }
}

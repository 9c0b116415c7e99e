import CNetlink
import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

/// A netlink request that failed: what was tried, and the kernel's (or libnl's) reason.
public enum NetlinkError: Error, CustomStringConvertible, Sendable {
    case failed(String)
    public var description: String { switch self { case .failed(let m): m } }
}

/// What vfwire reads of a netdev.
public struct LinkInfo: Equatable, Sendable {
    public var ifindex: Int32
    public var name: String
    public var mac: MACAddress?
    public var mtu: Int
    public var isUp: Bool
    /// IFLA_LINK: for a veth, the peer's ifindex (in the peer's namespace).
    public var link: Int32
    /// Set when IFLA_LINK refers to another namespace.
    public var linkNetnsid: Int32?
    public var master: Int32
}

/// A change to one netdev, sent as a single RTM_NEWLINK. The kernel applies a namespace move
/// first and then the rest in the new namespace, so move, rename, MAC, MTU and up/down cost
/// one request and one RCU grace period.
public struct LinkChange: Sendable {
    public var name: String?
    public var netnsFD: Int32?
    public var mac: MACAddress?
    public var mtu: Int?
    public var up: Bool?
    public var master: Int32?
    public init(name: String? = nil, netnsFD: Int32? = nil, mac: MACAddress? = nil, mtu: Int? = nil,
                up: Bool? = nil, master: Int32? = nil) {
        self.name = name; self.netnsFD = netnsFD; self.mac = mac; self.mtu = mtu; self.up = up
        self.master = master
    }
}

/// A route netlink socket, bound to the network namespace of the thread that opened it.
public final class Netlink {
    let sock: OpaquePointer
    /// The kernel's errno from the last NLMSG_ERROR. libnl folds errnos into its own codes
    /// (ENETUNREACH, EPROTONOSUPPORT and others all become "Unspecific failure"), and users
    /// need the kernel's reason, so an error callback keeps it.
    private let kernelErrno: UnsafeMutablePointer<Int32>

    public init() throws(NetlinkError) {
        guard let s = nl_socket_alloc() else { throw .failed("cannot allocate a netlink socket") }
        let rc = nl_connect(s, NETLINK_ROUTE)
        if rc < 0 {
            nl_socket_free(s)
            throw .failed("cannot open a route netlink socket: \(Self.message(rc))")
        }
        sock = s
        kernelErrno = .allocate(capacity: 1)
        kernelErrno.initialize(to: 0)
        nl_socket_modify_err_cb(s, NL_CB_CUSTOM, { _, err, arg in
            if let err, let arg { arg.assumingMemoryBound(to: Int32.self).pointee = -err.pointee.error }
            return Int32(NL_STOP.rawValue)
        }, kernelErrno)
    }

    deinit {
        nl_socket_free(sock)
        kernelErrno.deallocate()
    }

    static func message(_ rc: Int32) -> String { String(cString: nl_geterror(rc)) }

    func check(_ rc: Int32, _ what: @autoclosure () -> String) throws(NetlinkError) {
        defer { kernelErrno.pointee = 0 }
        guard rc < 0 else { return }
        let e = kernelErrno.pointee
        if e > 0 { throw .failed("\(what()): \(Errno.describe(e))") }
        throw .failed("\(what()): \(Self.message(rc))")
    }

    // MARK: links

    public func link(named name: String) throws(NetlinkError) -> LinkInfo? {
        try fetch(index: 0, name: name)
    }

    public func link(index: Int32) throws(NetlinkError) -> LinkInfo? {
        try fetch(index: index, name: nil)
    }

    private func fetch(index: Int32, name: String?) throws(NetlinkError) -> LinkInfo? {
        var l: OpaquePointer?
        let rc = rtnl_link_get_kernel(sock, index, name, &l)
        if rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV { return nil }
        try check(rc, "cannot read link \(name ?? String(index))")
        defer { rtnl_link_put(l) }
        return Self.info(l!)
    }

    /// Every link of this namespace, from one dump.
    public func links() throws(NetlinkError) -> [LinkInfo] {
        var cache: OpaquePointer?
        try check(rtnl_link_alloc_cache(sock, AF_UNSPEC, &cache), "cannot list links")
        defer { nl_cache_free(cache) }
        var out: [LinkInfo] = []
        var obj = nl_cache_get_first(cache)
        while let o = obj {
            out.append(Self.info(o))
            obj = nl_cache_get_next(o)
        }
        return out
    }

    static func info(_ l: OpaquePointer) -> LinkInfo {
        var mac: MACAddress?
        if let a = rtnl_link_get_addr(l), nl_addr_get_len(a) == 6 {
            let p = nl_addr_get_binary_addr(a)!.assumingMemoryBound(to: UInt8.self)
            mac = MACAddress(bytes: Array(UnsafeBufferPointer(start: p, count: 6)))
        }
        var nsid: Int32 = 0
        let hasNsid = rtnl_link_get_link_netnsid(l, &nsid) == 0
        return LinkInfo(
            ifindex: rtnl_link_get_ifindex(l),
            name: String(cString: rtnl_link_get_name(l)),
            mac: mac,
            mtu: Int(rtnl_link_get_mtu(l)),
            isUp: rtnl_link_get_flags(l) & vfw_iff_up() != 0,
            link: rtnl_link_get_link(l),
            linkNetnsid: hasNsid ? nsid : nil,
            master: rtnl_link_get_master(l))
    }

    /// Applies `change` to the link with `ifindex` in this socket's namespace.
    public func modify(ifindex: Int32, _ change: LinkChange, what: @autoclosure () -> String) throws(NetlinkError) {
        let orig = rtnl_link_alloc()!
        let ch = rtnl_link_alloc()!
        defer { rtnl_link_put(orig); rtnl_link_put(ch) }
        rtnl_link_set_ifindex(orig, ifindex)
        if let n = change.name { rtnl_link_set_name(ch, n) }
        if let fd = change.netnsFD { rtnl_link_set_ns_fd(ch, fd) }
        if let m = change.mac { try withAddr(m) { rtnl_link_set_addr(ch, $0) } }
        if let mtu = change.mtu { rtnl_link_set_mtu(ch, UInt32(mtu)) }
        if let up = change.up {
            if up { rtnl_link_set_flags(ch, vfw_iff_up()) } else { rtnl_link_unset_flags(ch, vfw_iff_up()) }
        }
        if let m = change.master { rtnl_link_set_master(ch, m) }
        try check(rtnl_link_change(sock, orig, ch, 0), what())
    }

    private func withAddr(_ m: MACAddress, _ body: (OpaquePointer) -> Void) throws(NetlinkError) {
        let a = m.bytes.withUnsafeBytes { nl_addr_build(AF_LLC, $0.baseAddress, 6) }
        guard let a else { throw .failed("cannot build address \(m)") }
        defer { nl_addr_put(a) }
        body(a)
    }

    public func addBridge(name: String) throws(NetlinkError) {
        let l = rtnl_link_alloc()!
        defer { rtnl_link_put(l) }
        rtnl_link_set_name(l, name)
        try check(rtnl_link_set_type(l, "bridge"), "bridge support")
        try check(rtnl_link_add(sock, l, vfw_nlm_f_create() | vfw_nlm_f_excl()), "cannot create bridge \(name)")
    }

    public func addVeth(name: String, peer: String, mac: MACAddress? = nil, peerMAC: MACAddress? = nil) throws(NetlinkError) {
        let l = rtnl_link_veth_alloc()!
        defer { rtnl_link_put(l) }
        rtnl_link_set_name(l, name)
        if let mac { try withAddr(mac) { rtnl_link_set_addr(l, $0) } }
        let p = rtnl_link_veth_get_peer(l)
        rtnl_link_set_name(p, peer)
        if let peerMAC { try withAddr(peerMAC) { rtnl_link_set_addr(p, $0) } }
        try check(rtnl_link_add(sock, l, vfw_nlm_f_create() | vfw_nlm_f_excl()), "cannot create veth \(name)")
    }

    public func deleteLink(ifindex: Int32) throws(NetlinkError) {
        let l = rtnl_link_alloc()!
        defer { rtnl_link_put(l) }
        rtnl_link_set_ifindex(l, ifindex)
        let rc = rtnl_link_delete(sock, l)
        if rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV { return }
        try check(rc, "cannot delete link \(ifindex)")
    }

    // MARK: addresses and routes

    public func addAddress(ifindex: Int32, cidr: String) throws(NetlinkError) {
        var local: OpaquePointer?
        try check(nl_addr_parse(cidr, AF_UNSPEC, &local), "bad address \(cidr)")
        defer { nl_addr_put(local) }
        let a = rtnl_addr_alloc()!
        defer { rtnl_addr_put(a) }
        rtnl_addr_set_ifindex(a, ifindex)
        try check(rtnl_addr_set_local(a, local), "bad address \(cidr)")
        rtnl_addr_set_prefixlen(a, Int32(nl_addr_get_prefixlen(local)))
        let rc = rtnl_addr_add(sock, a, 0)
        if rc == -NLE_EXIST { return }
        try check(rc, "cannot add address \(cidr)")
    }

    /// The addresses on `ifindex`, as `address/prefix`.
    public func addresses(ifindex: Int32) throws(NetlinkError) -> [String] {
        var cache: OpaquePointer?
        try check(rtnl_addr_alloc_cache(sock, &cache), "cannot list addresses")
        defer { nl_cache_free(cache) }
        var out: [String] = []
        var obj = nl_cache_get_first(cache)
        var buf = [CChar](repeating: 0, count: 128)
        while let o = obj {
            if rtnl_addr_get_ifindex(o) == ifindex, let l = rtnl_addr_get_local(o) {
                let ip = String(cString: nl_addr2str(l, &buf, buf.count))
                let bare = ip.split(separator: "/").first.map(String.init) ?? ip
                out.append("\(bare)/\(rtnl_addr_get_prefixlen(o))")
            }
            obj = nl_cache_get_next(o)
        }
        return out
    }

    public func addRoute(dst: String, gateway: String?, ifindex: Int32) throws(NetlinkError) {
        var d: OpaquePointer?
        try check(nl_addr_parse(dst, AF_UNSPEC, &d), "bad route destination \(dst)")
        defer { nl_addr_put(d) }
        let r = rtnl_route_alloc()!
        defer { rtnl_route_put(r) }
        rtnl_route_set_family(r, UInt8(nl_addr_get_family(d)))
        try check(rtnl_route_set_dst(r, d), "bad route destination \(dst)")
        let nh = rtnl_route_nh_alloc()!
        rtnl_route_nh_set_ifindex(nh, ifindex)
        if let gateway {
            var g: OpaquePointer?
            if nl_addr_parse(gateway, nl_addr_get_family(d), &g) < 0 {
                rtnl_route_nh_free(nh)
                throw .failed("bad route gateway \(gateway)")
            }
            rtnl_route_nh_set_gateway(nh, g)
            nl_addr_put(g)
        }
        rtnl_route_add_nexthop(r, nh)
        let rc = rtnl_route_add(sock, r, vfw_nlm_f_create())
        if rc == -NLE_EXIST { return }
        try check(rc, "cannot add route to \(dst)\(gateway.map { " via \($0)" } ?? "")")
    }

    // MARK: traffic control

    /// A token bucket on `ifindex`'s egress, or none when `mbps` is 0.
    public func setRateLimit(ifindex: Int32, mbps: UInt32) throws(NetlinkError) {
        let q = rtnl_qdisc_alloc()!
        defer { rtnl_qdisc_put(q) }
        rtnl_tc_set_ifindex(q, ifindex)
        rtnl_tc_set_parent(q, vfw_tc_h_root())
        if mbps == 0 {
            let rc = rtnl_qdisc_delete(sock, q)
            // No root qdisc to delete is the goal reached.
            if rc == -NLE_OBJ_NOTFOUND || rc == -NLE_INVAL || rc == -NLE_NOADDR { return }
            try check(rc, "cannot remove the rate limit")
            return
        }
        try check(rtnl_tc_set_kind(q, "tbf"), "tbf support")
        let bytesPerSecond = Int32(clamping: Int(mbps) * 125_000)
        // A burst of 10 ms of traffic, never less than a jumbo frame, keeps tbf accurate at low rates.
        let burst = max(bytesPerSecond / 100, 10_000)
        rtnl_qdisc_tbf_set_rate(q, bytesPerSecond, burst, 0)
        rtnl_qdisc_tbf_set_limit(q, burst * 4)
        try check(rtnl_qdisc_add(sock, q, vfw_nlm_f_create() | vfw_nlm_f_replace()), "cannot set a \(mbps) Mbps rate limit")
    }
}

/// errno names, because "Invalid argument" alone does not tell a user which errno to search for.
public enum Errno {
    static let names: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", EIO: "EIO", E2BIG: "E2BIG", EAGAIN: "EAGAIN", ENOMEM: "ENOMEM",
        EACCES: "EACCES", EBUSY: "EBUSY", EEXIST: "EEXIST", ENODEV: "ENODEV", EINVAL: "EINVAL",
        ENOSPC: "ENOSPC", ERANGE: "ERANGE", EOPNOTSUPP: "EOPNOTSUPP", EPROTONOSUPPORT: "EPROTONOSUPPORT",
        EAFNOSUPPORT: "EAFNOSUPPORT", EADDRNOTAVAIL: "EADDRNOTAVAIL", ENETDOWN: "ENETDOWN",
        ENETUNREACH: "ENETUNREACH", EHOSTUNREACH: "EHOSTUNREACH", EMSGSIZE: "EMSGSIZE",
        ENOBUFS: "ENOBUFS", ENXIO: "ENXIO", ENOTCONN: "ENOTCONN",
    ]

    public static func describe(_ e: Int32) -> String {
        "\(String(cString: strerror(e))) (\(names[e] ?? "errno \(e)"))"
    }
}

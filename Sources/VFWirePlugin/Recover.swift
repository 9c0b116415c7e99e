import Namespaces
import Netlink
import PFDriver
import Sysfs
import VFState
import VFWireTypes

/// A VF whose allocation record is corrupt, given back from what the VF itself still shows:
/// its netdev, wherever it is, and its VF table entry. What only the record knew is reported.
extension VFWire {
    /// Where the netdev of a VF with a quarantined record may be fetched from.
    enum Search {
        /// A DEL of the VF's attachment: from any namespace, its own first.
        case anywhere(netns: String?)
        /// GC: only a VF whose netdev is in the host, since one in a namespace may belong to a
        /// live attachment, and its record no longer says which.
        case hostOnly
    }

    /// Gives `vf` back as a DEL would, as far as the VF shows how: its netdev home under the
    /// name and MAC its NIC gives it, off its VLAN and without an admin MAC. Returns the one
    /// line that says what was done and what could not be known. The caller holds the lock.
    func recover(_ vf: PCIAddress, lock: VFLock, search: Search, log: Log) throws -> String {
        let head = "VF \(vf): its record is corrupt (kept as \(state.quarantinePath(vf)))"
        guard let fn = nics.function(vf), let pf = fn.physfn, let index = pf.index(of: vf) else {
            state.dropIndex(of: vf, lock: lock)
            return "\(head) and the VF no longer exists"
        }
        let driver = try nics.open(pf)
        let pristine = driver.pristineNetdev(vf: index)
        let check = "check the VF (vfwirectl vf show \(pf.netdevs.first ?? pf.description)), then remove \(state.quarantinePath(vf))"
        try driver.refresh(vf: index)
        var done: [String] = [], unknown: [String] = []
        if fn.netdevs.isEmpty {
            guard case .anywhere(let netns) = search else {
                return "\(head); its netdev is not in the host, so it may be a live attachment's: left as it is; DEL that attachment, or \(check)"
            }
            let host = try NetNS.current()
            if let (ns, l) = findNetdev(try driver.netdevTest(vf: fn, index: index), first: [netns].compactMap { $0 }, host: host) {
                try moveHome(l, from: ns, as: pristine.name ?? l.name, host: host, log: log)
                done.append("back from \(ns.path)")
                try driver.refresh(vf: index)
            }
        }
        let table = try driver.config(vf: index)
        var fix = VFChange()
        if table.vlan != .untagged || table.qos != 0 {
            fix.vlan = VFVLANSetting(vlan: .untagged)
            done.append("VLAN 0 (was \(table.vlan))")
        }
        if !table.mac.isZero {
            fix.mac = .zero
            done.append("admin MAC \(table.mac) cleared")
        }
        // The table before the netdev, as in release: an admin MAC may hold the netdev's.
        if !fix.isEmpty { try driver.apply(vf: index, fix) }
        if let name = fn.netdevs.first, let l = try Netlink().link(named: name) {
            let want = NetdevState(name: pristine.name ?? name, mac: pristine.mac ?? l.mac, mtu: l.mtu, up: l.isUp)
            try restoreInHost(want, fn: fn, vf: index, driver: driver, log: log)
            done.append("in the host as \(fn.netdevs.first ?? name)" + (pristine.mac.map { " with its own MAC \($0)" } ?? ""))
            if pristine.name == nil { unknown.append("its name") }
            if pristine.mac == nil { unknown.append("its MAC \(l.mac?.description ?? "none")") }
            unknown.append("MTU \(l.mtu)")
            unknown.append(l.isUp ? "up" : "down")
        } else {
            unknown.append("its netdev, found in no namespace (driver \(fn.driver ?? "none"))")
        }
        unknown += ["spoofchk \(table.spoofchk ? "on" : "off")", "trust \(table.trust ? "on" : "off")",
                    "min_tx_rate \(table.minTxRate)", "max_tx_rate \(table.maxTxRate)", "link_state \(table.linkState.rawValue)"]
        state.dropIndex(of: vf, lock: lock)
        return "\(head); restored from what the VF shows: \(done.isEmpty ? "nothing to undo" : done.joined(separator: ", "));"
            + " not known, left as they are: \(unknown.joined(separator: ", ")); \(check)"
    }

    /// The VF with a corrupt record, quarantined or not yet, whose netdev is `ifname` in
    /// `netns`: the attachment a DEL names when no index entry leads to its VF.
    func corruptVF(in netns: String, named ifname: String) -> PCIAddress? {
        guard let ns = try? NetNS(path: netns),
              let l = try? ns.run({ () throws in try Netlink().link(named: ifname) }) else { return nil }
        let unreadable = state.recordedVFs().filter { (try? state.record(of: $0)) == nil }
        return (state.quarantinedVFs() + unreadable).first { vf in
            guard let fn = nics.function(vf), let pf = fn.physfn, let index = pf.index(of: vf),
                  let isVF = try? nics.open(pf).netdevTest(vf: fn, index: index) else { return false }
            return isVF(l)
        }
    }
}

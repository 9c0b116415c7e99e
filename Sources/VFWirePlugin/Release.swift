import CNIProtocol
import IPAM
import JSON
import Namespaces
import Netconf
import Netlink
import PFDriver
import Sysfs
import VFState
import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

/// DEL, and giving a VF back exactly as its record found it.
extension VFWire {
    public func del(_ env: CNIEnvironment, _ conf: NetConf) throws {
        let log = Log(conf, context: "DEL \(env.containerID!) \(env.ifname!)")
        let key = key(conf, env)
        try state.prepare()
        // IPAM lets go of the address while the VF moves home.
        let ipam = try conf.ipamType.map { (t) throws in
            try Delegate(type: t, paths: env.path).start(.del, input: conf.delegateInput, version: conf.cniVersion,
                                                        environment: env.all)
        }
        if let vf = state.vf(for: key, scan: true) ?? env.netns.flatMap({ corruptVF(in: $0, named: key.ifname) }) {
            let lock = try state.lock(vf)
            if let r = try readRecord(vf, lock: lock, log: log), r.key == key {
                try release(r, lock: lock, netns: env.netns, log: log)
            } else if state.isQuarantined(vf) {
                // Failing would not make the record readable; the runtime must be able to go on.
                do {
                    let report = try recover(vf, lock: lock, search: .anywhere(netns: env.netns), log: log)
                    log.warn(report)
                } catch { log.error("VF \(vf): its record is corrupt and giving it back failed: \(error); it is left for a human (vfwirectl ls)") }
            }
            withExtendedLifetime(lock) {}
        } else {
            log.debug("no allocation for \(key.network)/\(key.containerID)/\(key.ifname): nothing to give back")
        }
        _ = try ipam?.finish()
    }

    /// Gives a VF back exactly as the record found it. Every step checks where things are now,
    /// so it is safe after a crash at any point of ADD and safe to repeat.
    func release(_ r: AllocationRecord, lock: VFLock, netns: String?, log: Log) throws {
        let pf = SysfsRoot(r.sysfsRoot).function(r.pf)
        let driver = try nics.open(pf)
        let fn = pf.root.function(r.vf)
        if r.mode == .kernel, let hostName = r.netdev?.name {
            let host = try NetNS.current()
            // The container's namespace, if it is still the one the VF went into.
            let live = [netns, r.netns].compactMap { $0 }.first { NetNS.identity(at: $0) == r.netnsID }
            let moved = try live.map { try bringHome(r, as: hostName, from: try NetNS(path: $0), host: host, log: log) } ?? false
            if !moved && fn.driver == r.originalDriver {
                // A dying namespace gives the VF back by itself; a live one may have passed it on.
                if live == nil { try awaitNetdev(fn, vf: r.vfIndex, driver: driver) } else { try driver.refresh(vf: r.vfIndex) }
                if fn.netdevs.isEmpty {
                    let isVF = try driver.netdevTest(vf: fn, index: r.vfIndex)
                    let index = r.netdev?.ifindex, mac = r.applied.mac ?? r.netdev?.mac
                    if let (ns, l) = findNetdev({ isVF($0) || ($0.ifindex == index && $0.mac == mac) }, first: [], host: host) {
                        log.info("VF \(r.vf) is in \(ns.path) as \(l.name), not in the container's namespace: bringing it home")
                        try moveHome(l, from: ns, as: hostName, host: host, log: log)
                    }
                }
            }
            try driver.refresh(vf: r.vfIndex)
        }
        // The table before the netdev: on some NICs an admin MAC reaches the netdev, which then
        // gets its own back; and a VF leaving vfio-pci probes with its own MAC again.
        if !r.applied.isEmpty { try driver.apply(vf: r.vfIndex, r.applied.undo(from: r.original)) }
        // vfio mode moved the VF to vfio-pci; in kernel mode a VM runtime may have (Kata's
        // physical endpoint rebinds the netdev it finds in the namespace) and not given it back.
        if let orig = r.originalDriver, orig != "vfio-pci", fn.driver != orig {
            log.info("VF \(r.vf) is on \(fn.driver ?? "no driver"): giving it back to \(orig)")
            try fn.rebind(to: nil)
            if fn.driver != orig { try fn.rebind(to: orig); try fn.rebind(to: nil) }
            if r.netdev != nil { try awaitNetdev(fn, vf: r.vfIndex, driver: driver) }
        }
        if let netdev = r.netdev { try restoreInHost(netdev, fn: fn, vf: r.vfIndex, driver: driver, log: log) }
        state.remove(r, lock: lock)
        log.info("VF \(r.vf) given back\(r.netdev.map { " as " + $0.name } ?? "")")
    }

    /// The IPAM lease of an attachment released without its DEL (GC, reclaim on ADD): the DEL
    /// the runtime never sent, with the netconf ADD gave the plugin, at the version the plugin takes.
    func releaseLease(_ r: AllocationRecord, environment: [String: String], log: Log) {
        guard let lease = r.ipam, case .object(let recorded)? = try? JSONParser().parse(Array(lease.netconf.utf8)),
              let version = recorded["cniVersion"]?.stringValue.flatMap(CNIVersion.init) else { return }
        var env = environment
        env["CNI_CONTAINERID"] = r.key.containerID
        env["CNI_IFNAME"] = r.key.ifname
        env["CNI_PATH"] = lease.paths.joined(separator: ":")
        env["CNI_NETNS"] = nil
        env["CNI_ARGS"] = nil
        let input = { (v: CNIVersion) -> [UInt8] in
            var o = recorded
            o["cniVersion"] = .string(v.rawValue)
            return JSONValue.object(o).serialized
        }
        do { _ = try Delegate(type: lease.type, paths: lease.paths).run(.del, input: input, version: version, environment: env) }
        catch { log.warn("IPAM \(lease.type) kept the lease of \(r.key.containerID)/\(r.key.ifname): \(error)") }
    }

    /// A dying namespace gives its devices back asynchronously, after `ip netns del` or the
    /// container's last process has already returned, and a rebound VF driver registers its
    /// netdev a moment after the bind: wait a little for the VF netdev to show up in the host
    /// rather than restoring a VF that is still half inside.
    func awaitNetdev(_ fn: PCIFunction, vf: Int, driver: PFDriver) throws {
        let deadline = monotonic() + 3
        while true {
            try driver.refresh(vf: vf)
            if !fn.netdevs.isEmpty || monotonic() > deadline { return }
            usleep(10_000)
        }
    }

    /// Moves the VF netdev from the container to the host under its old name, in one request;
    /// false when the container does not have it. MAC, MTU and state are left to
    /// `restoreInHost`, after the VF table: a VF driver may refuse its own MAC while the PF
    /// still holds an admin MAC for it (igbvf does).
    func bringHome(_ r: AllocationRecord, as hostName: String, from ns: NetNS, host: NetNS, log: Log) throws -> Bool {
        let found = try ns.run { () throws -> LinkInfo? in
            let nl = try Netlink()
            // By ifindex first: the container may have renamed it. By name for records from
            // before the ifindex was kept, and before the rename succeeded, its host name.
            // The MAC must match too: a move keeps the ifindex only when the namespace has it
            // free, and a driver reload (adoptMAC) makes a new netdev.
            let mac = r.applied.mac ?? r.netdev?.mac
            if let l = try r.netdev?.ifindex.flatMap({ (i) throws in try nl.link(index: i) }), l.mac == mac { return l }
            return try nl.link(named: r.key.ifname) ?? nl.link(named: hostName)
        }
        guard let l = found else { return false }
        try moveHome(l, from: ns, as: hostName, host: host, log: log)
        return true
    }

    /// The VF netdev in the host, however it got there (moved back, back by itself when its
    /// namespace died, or new after a driver rebind), put back to the recorded name, MAC, MTU
    /// and state. A VF driver names a netdev it registers anew (after a reload) with the next
    /// free ethN, which can be the name another VF is about to take back: two DELs reloading
    /// at once came home with each other's names. So reloads and the renames after them take
    /// turns on the host (`netdevNamesLock`).
    func restoreInHost(_ want: NetdevState, fn: PCIFunction, vf: Int, driver: PFDriver, log: Log) throws {
        let names = try state.netdevNamesLock()
        defer { withExtendedLifetime(names) {} }
        try restore(want, fn: fn, vf: vf, driver: driver, log: log, mayReload: true)
    }

    private func restore(_ want: NetdevState, fn: PCIFunction, vf: Int, driver: PFDriver, log: Log,
                         mayReload: Bool) throws {
        guard let name = fn.netdevs.first else {
            log.warn("VF \(fn) has no netdev in the host; its table entry is still restored")
            return
        }
        let nl = try Netlink()
        guard let l = try nl.link(named: name) else { return }
        let rename = name != want.name
        if !rename && l.mac == want.mac && l.mtu == want.mtu && l.isUp == want.up { return }
        // A netdev must be down to be renamed, and do_setlink renames before it changes flags.
        if rename && l.isUp {
            try nl.modify(ifindex: l.ifindex, LinkChange(up: false), what: "cannot bring \(name) down")
        }
        var fix = LinkChange(mac: want.mac, mtu: want.mtu, up: want.up)
        if rename {
            if try nl.link(named: want.name) == nil { fix.name = want.name } else {
                log.warn("cannot rename \(name) back to \(want.name): the name is taken")
            }
        }
        do {
            try nl.modify(ifindex: l.ifindex, fix, what: "cannot restore \(name) as \(want.name)")
        } catch {
            // A VF driver that adopted an admin MAC by reloading may refuse its old one until it
            // reloads again (seen with igbvf); the admin MAC is gone by now, so a reload frees it.
            guard mayReload, fn.root == .kernel, let d = fn.driver, l.mac != want.mac else { throw error }
            log.info("\(error); reloading \(d) to give the VF its own MAC back")
            try fn.reload()
            try awaitNetdev(fn, vf: vf, driver: driver)
            return try restore(want, fn: fn, vf: vf, driver: driver, log: log, mayReload: false)
        }
        if fix.name != nil { try driver.refresh(vf: vf) }
    }
}

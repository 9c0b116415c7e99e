import CNIProtocol
import IPAM
import Namespaces
import Netconf
import Netlink
import PFDriver
import Sysfs
import VFState
import VFWireTypes

extension VFWire {
    // MARK: CHECK

    /// Reads back what ADD made, in the container and in the PF's VF table, and compares it
    /// with prevResult and the config.
    public func check(_ env: CNIEnvironment, _ conf: NetConf) throws {
        guard let prev = conf.prevResult else { throw PluginError.invalidConfig("CHECK needs prevResult") }
        let key = key(conf, env)
        let ifname = key.ifname
        guard let vf = state.vf(for: key, scan: true), let r = try state.record(of: vf), r.key == key else {
            throw PluginError.checkFailed("no VF is attached as \(ifname) to \(key.containerID) on network \(key.network)")
        }
        let ns = try NetNS(path: env.netns!)
        guard ns.identity == r.netnsID else {
            throw PluginError.checkFailed("\(ifname) was attached to another network namespace than \(ns.path)")
        }
        guard let index = prev.interfaces?.firstIndex(where: { $0.name == ifname && $0.sandbox == ns.path }) else {
            throw PluginError.checkFailed("prevResult has no interface \(ifname) in \(ns.path)")
        }
        let want = prev.interfaces![index]
        let wantIPs = (prev.ips ?? []).filter { $0.interface == index }.map(\.address)
        switch r.mode {
        case .kernel: try checkKernel(ns: ns, ifname: ifname, want: want, wantIPs: wantIPs, mtu: conf.mtu)
        case .vfio:
            let fn = SysfsRoot(r.sysfsRoot).function(r.vf)
            guard fn.driver == "vfio-pci" else {
                throw PluginError.checkFailed("VF \(r.vf) is bound to \(fn.driver ?? "no driver"), not vfio-pci")
            }
            let group = try IOMMUGroup.of(fn)
            do { try group.checkViable() } catch { throw PluginError.checkFailed("\(error)") }
            if let d = want.vfioDevice, d != group.devicePath {
                throw PluginError.checkFailed("VF \(r.vf) is in \(group.devicePath), prevResult says \(d)")
            }
        }
        let driver = try nics.open(SysfsRoot(r.sysfsRoot).function(r.pf))
        let diffs = r.applied.isSatisfied(by: try driver.config(vf: r.vfIndex))
        if !diffs.isEmpty { throw PluginError.checkFailed("VF \(r.vf): " + diffs.joined(separator: "; ")) }
        if let t = conf.ipamType {
            _ = try Delegate(type: t, paths: env.path).run(.check, input: conf.delegateInput, version: conf.cniVersion,
                                                          environment: env.all)
        }
    }

    func checkKernel(ns: NetNS, ifname: String, want: CNIResult.Interface, wantIPs: [String], mtu: Int?) throws {
        try ns.run { () throws in
            let nl = try Netlink()
            guard let l = try nl.link(named: ifname) else { throw PluginError.checkFailed("\(ifname) is missing from \(ns.path)") }
            if let m = want.mac, l.mac?.description != m.lowercased() {
                throw PluginError.checkFailed("\(ifname) has MAC \(l.mac?.description ?? "none"), prevResult says \(m)")
            }
            if let mtu, l.mtu != mtu { throw PluginError.checkFailed("\(ifname) has MTU \(l.mtu), config says \(mtu)") }
            if !l.isUp { throw PluginError.checkFailed("\(ifname) is down") }
            let have = Set(try nl.addresses(ifindex: l.ifindex))
            if let missing = wantIPs.first(where: { !have.contains($0) }) {
                throw PluginError.checkFailed("\(ifname) lacks address \(missing)")
            }
        }
    }

    // MARK: STATUS

    /// Ready when every configured PF exists and one of them has a free VF.
    public func status(_ env: CNIEnvironment, _ conf: NetConf) throws {
        var free = 0
        for name in conf.pfs {
            guard let pf = nics.pf(netdev: name) else { throw PluginError.unavailable("PF \(name) does not exist") }
            let driver = try nics.open(pf)
            try driver.refresh(vf: nil)
            free += state.freeVFs(of: pf).count
            let bad = pf.virtfns().values.map(\.address).filter(state.isQuarantined)
            if !bad.isEmpty {
                throw PluginError.unavailable("PF \(name): VF " + bad.map { "\($0) has a corrupt record (\(state.quarantinePath($0)))" }
                    .joined(separator: ", ") + ": check the VF, then remove the file")
            }
        }
        if !conf.pfs.isEmpty && free == 0 {
            throw PluginError.unavailable("no free VF on \(conf.pfs.map(\.value).joined(separator: ", "))")
        }
        if let t = conf.ipamType { try delegateTolerant(.status, t, conf, env) }
    }

    // MARK: GC

    /// Releases every VF this network holds for an attachment the runtime no longer lists.
    public func gc(_ env: CNIEnvironment, _ conf: NetConf) throws {
        let log = Log(conf, context: "GC")
        let valid = Set((conf.validAttachments ?? []).map { "\($0.containerID)\u{0}\($0.ifname)" })
        try state.prepare()
        state.sweep(nil)
        var failures: [String] = []
        var corrupt: Set<PCIAddress> = []
        for vf in state.recordedVFs() {
            guard (try? state.record(of: vf)) == nil, let lock = try state.tryLock(vf) else { continue }
            _ = try readRecord(vf, lock: lock, log: log)
            if state.isQuarantined(vf) { corrupt.insert(vf) }
        }
        // Those found now, and those of this network's VFs found before: until a human removes
        // the file, each GC says so again.
        let mine = Set(conf.pfs.compactMap(nics.pf).flatMap { $0.virtfns().values.map(\.address) } + [conf.deviceID].compactMap { $0 })
        for vf in state.quarantinedVFs() where corrupt.contains(vf) || mine.contains(vf) {
            guard let lock = try state.tryLock(vf) else { continue }
            do { failures.append(try recover(vf, lock: lock, search: .hostOnly, log: log)) } catch {
                failures.append("VF \(vf): its record is corrupt (kept as \(state.quarantinePath(vf))) and giving it back failed: \(error)")
            }
        }
        for r in state.allRecords() where r.key.network == conf.name.value
            && !valid.contains("\(r.key.containerID)\u{0}\(r.key.ifname)") {
            // An operation in flight on this VF owns it; the next GC will see the outcome.
            guard let lock = try state.tryLock(r.vf) else { continue }
            defer { withExtendedLifetime(lock) {} }
            guard let current = try state.record(of: r.vf), current == r else { continue }
            do {
                try release(r, lock: lock, netns: nil, log: log)
                releaseLease(r, environment: env.all, log: log)
            } catch {
                failures.append("\(r.vf): \(error)")
            }
        }
        if let t = conf.ipamType { try delegateTolerant(.gc, t, conf, env) }
        if !failures.isEmpty { throw PluginError.io("GC could not release " + failures.joined(separator: "; ")) }
    }

    /// STATUS and GC came with CNI 1.1; a delegate that predates them is not asked, as libcni
    /// does: Debian's host-local 1.1.1 takes them for ADD-like calls and fails with code 3.
    func delegateTolerant(_ cmd: CNICommand, _ type: String, _ conf: NetConf, _ env: CNIEnvironment) throws {
        let d = Delegate(type: type, paths: env.path)
        if let v = try d.versions(environment: env.all), !v.contains(where: { $0 >= .v1_1_0 }) { return }
        do {
            _ = try d.run(cmd, input: conf.delegateInput, version: conf.cniVersion, environment: env.all)
        } catch DelegateError.failed(let e) where e.code == 1 {
            return
        }
    }
}

import CNIProtocol
import FileSystem
import IPAM
import Namespaces
import Netconf
import Netlink
import PFDriver
import Sysfs
import VFAllocation
import VFWireTypes
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// The vfwire CNI plugin: one VF of an SR-IOV PF per attachment, as a netdev in the container
/// (kernel mode) or bound to vfio-pci (vfio mode).
public struct VFWire: CNIPlugin {
    /// The NICs the executable lets vfwire use.
    let nics: NICs
    let state: StateDir

    public init(nics: NICs, state: StateDir = .default) { self.nics = nics; self.state = state }

    func key(_ conf: NetConf, _ env: CNIEnvironment) -> AttachmentKey {
        AttachmentKey(network: conf.name.value, containerID: env.containerID!.value, ifname: env.ifname!.value)
    }

    // MARK: ADD

    public func add(_ env: CNIEnvironment, _ conf: NetConf) throws -> CNIResult {
        let log = Log(conf, context: "ADD \(env.containerID!) \(env.ifname!)")
        if conf.pfs.isEmpty && conf.deviceID == nil {
            throw PluginError.invalidConfig("no VF to use: set deviceID (a VF's PCI address) or pf (PFs to take a free VF from)")
        }
        let key = key(conf, env)
        let ifname = env.ifname!.value
        let target = try NetNS(path: env.netns!)
        try state.prepare()

        if let held = state.vf(for: key, scan: false), let r = try state.record(of: held), r.key == key, r.netnsAlive {
            throw PluginError.deviceBusy("\(key.containerID) already has \(ifname) on network \(key.network) (VF \(held)): DEL it first")
        }
        if conf.mode != .vfio, try target.run({ () throws in try Netlink().link(named: ifname) }) != nil {
            throw PluginError.deviceBusy("the container already has an interface named \(ifname)")
        }

        let claim = try self.claim(conf, key: key, log: log)
        let mode = claim.mode
        var netdev: NetdevState?
        var hostLink: LinkInfo?
        if let name = claim.netdev {
            guard let l = try Netlink().link(named: name) else { throw PluginError.deviceBusy("VF \(claim.vf) netdev \(name) vanished") }
            hostLink = l
            netdev = NetdevState(name: l.name, mac: l.mac, mtu: l.mtu, up: l.isUp)
        }
        let original = try claim.driver.config(vf: claim.index)
        let change = conf.vf.change(from: original)
        var record = AllocationRecord(
            key: key, vf: claim.vf.address, pf: claim.pf.address, vfIndex: claim.index,
            sysfsRoot: claim.pf.root.path, netns: target.path, netnsID: target.identity, mode: mode,
            original: original, netdev: netdev, originalDriver: claim.vf.driver, applied: change)

        // The record goes down before the first change, so a crash at any later point leaves
        // enough behind for DEL, GC or the next ADD's reclaim to restore the VF.
        try state.write(record, lock: claim.lock)
        var ipamDelegate: Delegate?
        var ipam: Delegate.Running?
        do throws {
            // Field by field: after a refusal, the record must list only what was applied, or
            // undoing would ask the driver for the very setting it just refused.
            var done = VFChange()
            for field in change.fields {
                do { try claim.driver.apply(vf: claim.index, field) } catch {
                    record.applied = done
                    try state.write(record, lock: claim.lock)
                    throw error
                }
                done = done.merging(field)
            }
            // IPAM runs while the VF moves: the move mostly sleeps in the kernel.
            if let t = conf.ipamType {
                let d = Delegate(type: t, paths: env.path)
                ipamDelegate = d
                ipam = try d.start(.add, input: conf.delegateInput, version: conf.cniVersion, environment: env.all)
            }
            var result: CNIResult
            switch mode {
            case .kernel:
                result = try attachKernel(conf, claim: claim, link: hostLink!, into: target, ifname: ifname, ipam: ipam, log: log)
            case .vfio:
                result = try attachVFIO(conf, claim: claim, netns: target.path, ifname: ifname, ipam: ipam,
                                        mac: conf.vf.mac ?? original.mac)
            }
            log.info("VF \(claim.vf) attached as \(ifname) in \(mode.rawValue) mode")
            return result
        } catch {
            // The same path as DEL: it finds the VF wherever the failure left it.
            log.error("\(error); undoing")
            if let d = ipamDelegate {
                _ = try? ipam?.finish()
                do { _ = try d.run(.del, input: conf.delegateInput, version: conf.cniVersion, environment: env.all) }
                catch let e { log.error("undo IPAM failed: \(e)") }
            }
            do { try release(record, lock: claim.lock, netns: target.path, log: log) } catch let e { log.error("undo failed: \(e)") }
            throw error
        }
    }

    /// IPAM's result, once it has finished.
    static func ipamResult(_ running: Delegate.Running?, type: String?) throws -> CNIResult? {
        guard let running else { return nil }
        let out = try running.finish()
        do { return try JSONDecoder().decode(CNIResult.self, from: Data(out)) } catch {
            throw PluginError.decode("IPAM plugin \(type ?? "") returned no result: \(error)")
        }
    }

    /// Moves the VF netdev into the container and renames it in one request, with MAC, MTU and
    /// up in the same message (the kernel applies them after the move), then IPAM's addresses.
    func attachKernel(_ conf: NetConf, claim: Claim, link: LinkInfo, into target: NetNS, ifname: String,
                      ipam running: Delegate.Running?, log: Log) throws -> CNIResult {
        var link = link
        if let mac = conf.vf.mac, link.mac != mac { link = try adoptMAC(mac, link: link, claim: claim, log: log) }
        try Netlink().modify(ifindex: link.ifindex,
                             LinkChange(name: ifname, netnsFD: target.fd, mtu: conf.mtu, up: true),
                             what: "cannot move VF \(claim.vf) (\(link.name)) into \(target.path) as \(ifname)")
        let ipam = try Self.ipamResult(running, type: conf.ipamType)
        let inside = try target.run { () throws -> LinkInfo in
            let nl = try Netlink()
            guard let l = try nl.link(named: ifname) else { throw NetlinkError.failed("\(ifname) is not in \(target.path) after the move") }
            if let ipam { try Self.configure(nl, ifindex: l.ifindex, ipam) }
            return l
        }
        let iface = CNIResult.Interface(name: ifname, mac: inside.mac?.description, mtu: inside.mtu, sandbox: target.path,
                                        pciID: claim.vf.address.description)
        return Self.result(conf, ipam: ipam, iface: iface)
    }

    /// Gives the VF netdev the MAC just set as the VF's admin MAC, in the host, before the move.
    /// Most VF drivers take it; igbvf (like ixgbevf) refuses every MAC change while the PF holds an
    /// admin MAC and adopts that MAC only when it reloads ("Reload the VF driver to make this
    /// change effective", says igb). So a refusal reloads the VF driver, and the netdev it
    /// registers anew, under a new name, is the one that moves.
    func adoptMAC(_ mac: MACAddress, link: LinkInfo, claim: Claim, log: Log) throws -> LinkInfo {
        let nl = try Netlink()
        do {
            try nl.modify(ifindex: link.ifindex, LinkChange(mac: mac), what: "VF \(claim.vf) refused MAC \(mac)")
            return try nl.link(index: link.ifindex) ?? link
        } catch {
            guard let driver = claim.vf.driver else { throw error }
            log.info("\(error); reloading \(driver) so that it adopts the admin MAC")
            try claim.vf.reload()
            try awaitNetdev(claim.vf, vf: claim.index, driver: claim.driver)
            guard let name = claim.vf.netdevs.first, let l = try nl.link(named: name) else {
                throw PluginError.deviceBusy("VF \(claim.vf) has no netdev after reloading \(driver)")
            }
            guard l.mac == mac else {
                throw PFDriverError.refused("VF \(claim.vf) (driver \(driver)) did not adopt its admin MAC \(mac) after a reload; it has \(l.mac?.description ?? "none")")
            }
            return l
        }
    }

    /// Hands the VF to vfio-pci. Nothing enters the namespace: the runtime (or the hook, or
    /// Kata) gives the container /dev/vfio/N. IPAM's addresses are returned for the userspace
    /// driver to use, not configured.
    func attachVFIO(_ conf: NetConf, claim: Claim, netns: String, ifname: String, ipam running: Delegate.Running?,
                    mac: MACAddress) throws -> CNIResult {
        if claim.vf.driver != "vfio-pci" { try claim.vf.rebind(to: "vfio-pci") }
        let ipam = try Self.ipamResult(running, type: conf.ipamType)
        let group = try IOMMUGroup.of(claim.vf)
        try group.checkViable()
        guard FS.exists(group.devicePath) else {
            throw PluginError.io("\(group.devicePath) does not exist although \(claim.vf) is on vfio-pci")
        }
        let iface = CNIResult.Interface(name: ifname, mac: mac.isZero ? nil : mac.description, sandbox: netns,
                                        pciID: claim.vf.address.description, vfioDevice: group.devicePath)
        return Self.result(conf, ipam: ipam, iface: iface)
    }

    /// Addresses and routes from IPAM, as the reference plugins' ipam.ConfigureIface sets them:
    /// a route without a gateway goes via the gateway of the first address of its family.
    static func configure(_ nl: Netlink, ifindex: Int32, _ r: CNIResult) throws {
        for ip in r.ips ?? [] { try nl.addAddress(ifindex: ifindex, cidr: ip.address) }
        for route in r.routes ?? [] {
            let v6 = route.dst.contains(":")
            let gw = route.gw ?? r.ips?.first { $0.isIPv6 == v6 && $0.gateway != nil }?.gateway
            try nl.addRoute(dst: route.dst, gateway: gw, ifindex: ifindex)
        }
    }

    /// Our interface appended to a chain's prevResult, with IPAM's addresses pointing at it.
    static func result(_ conf: NetConf, ipam: CNIResult?, iface: CNIResult.Interface) -> CNIResult {
        var r = conf.prevResult ?? CNIResult()
        var ifaces = r.interfaces ?? []
        let index = ifaces.count
        ifaces.append(iface)
        r.interfaces = ifaces
        if let ipam {
            r.ips = (r.ips ?? []) + (ipam.ips ?? []).map { var ip = $0; ip.interface = index; return ip }
            r.routes = (r.routes ?? []) + (ipam.routes ?? [])
        }
        if r.ips == nil { r.ips = [] }
        return r
    }

    // MARK: DEL

    public func del(_ env: CNIEnvironment, _ conf: NetConf) throws {
        let log = Log(conf, context: "DEL \(env.containerID!) \(env.ifname!)")
        let key = key(conf, env)
        try state.prepare()
        // IPAM lets go of the address while the VF moves home.
        let ipam = try conf.ipamType.map { (t) throws in
            try Delegate(type: t, paths: env.path).start(.del, input: conf.delegateInput, version: conf.cniVersion,
                                                        environment: env.all)
        }
        if let vf = state.vf(for: key, scan: true) {
            let lock = try state.lock(vf)
            if let r = try state.record(of: vf), r.key == key { try release(r, lock: lock, netns: env.netns, log: log) }
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
        if r.mode == .kernel {
            // The container's namespace, if it is still the one the VF went into.
            let live = [netns, r.netns].compactMap { $0 }.first { NetNS.identity(at: $0) == r.netnsID }
            if let live {
                try bringHome(r, from: try NetNS(path: live), host: try NetNS.current(), log: log)
                try driver.refresh(vf: r.vfIndex)
            } else if fn.driver == r.originalDriver {
                try awaitNetdev(fn, vf: r.vfIndex, driver: driver)
            }
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

    /// Moves the VF netdev from the container to the host under its old name, in one request.
    /// MAC, MTU and state are left to `restoreInHost`, after the VF table: a VF driver may
    /// refuse its own MAC while the PF still holds an admin MAC for it (igbvf does). When the
    /// name is taken in the host, the kernel's own fallback `dev%d` is used.
    func bringHome(_ r: AllocationRecord, from ns: NetNS, host: NetNS, log: Log) throws {
        guard let hostName = r.netdev?.name else { return }
        try ns.run { () throws in
            let nl = try Netlink()
            // Before the rename succeeds it may still carry its host name.
            var found = try nl.link(named: r.key.ifname)
            if found == nil { found = try nl.link(named: hostName) }
            guard let l = found else { return }
            let home = LinkChange(name: hostName, netnsFD: host.fd)
            do {
                try nl.modify(ifindex: l.ifindex, home, what: "cannot move \(r.key.ifname) back to the host")
            } catch {
                log.warn("\(error); retrying under a free name")
                guard try nl.link(index: l.ifindex) != nil else { return }
                try nl.modify(ifindex: l.ifindex, LinkChange(name: "dev%d", netnsFD: host.fd),
                              what: "cannot move \(r.key.ifname) back to the host")
            }
        }
    }

    /// The VF netdev in the host, however it got there (moved back, back by itself when its
    /// namespace died, or new after a driver rebind), put back to the recorded name, MAC, MTU
    /// and state.
    func restoreInHost(_ want: NetdevState, fn: PCIFunction, vf: Int, driver: PFDriver, log: Log,
                       mayReload: Bool = true) throws {
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
            return try restoreInHost(want, fn: fn, vf: vf, driver: driver, log: log, mayReload: false)
        }
        if fix.name != nil { try driver.refresh(vf: vf) }
    }

    // MARK: VF choice

    struct Claim {
        let lock: VFLock
        let pf: PCIFunction
        let vf: PCIFunction
        let index: Int
        let driver: PFDriver
        /// The VF's netdev in the host; nil for a VF already on vfio-pci.
        let netdev: String?
        let mode: VFMode
    }

    func claim(_ conf: NetConf, key: AttachmentKey, log: Log) throws -> Claim {
        if let dev = conf.deviceID { return try claimDevice(dev, conf, key: key, log: log) }
        let deadline = monotonic() + 10
        while true {
            var missing: [String] = []
            var busy = false
            var total = 0
            for name in conf.pfs {
                guard let pf = nics.pf(netdev: name) else { missing.append(name.value); continue }
                let driver = try nics.open(pf)
                let vfs = pf.virtfns().sorted { $0.key < $1.key }
                total += vfs.count
                for (index, fn) in vfs {
                    guard let lock = try state.tryLock(fn.address) else { busy = true; continue }
                    // Attached VFs are passed on their lock file alone: a testbed holds many.
                    if lock.claimAlive == true { continue }
                    if let r = try state.record(of: fn.address) {
                        if r.netnsAlive { continue }
                        log.info("reclaiming VF \(fn) from \(r.key.containerID), whose namespace is gone")
                        try release(r, lock: lock, netns: nil, log: log)
                    }
                    // Only a VF whose netdev sits unused in the host is free: one on vfio-pci
                    // without a record of ours belongs to someone else (a VM, a DPDK app).
                    try driver.refresh(vf: index)
                    guard let netdev = fn.netdevs.first else { continue }
                    return Claim(lock: lock, pf: pf, vf: fn, index: index, driver: driver, netdev: netdev,
                                 mode: conf.mode ?? .kernel)
                }
            }
            if missing.count == conf.pfs.count {
                throw PluginError.invalidConfig("pf: no SR-IOV PF named \(missing.joined(separator: ", "))")
            }
            // A VF locked by an operation in flight may be about to come free (a DEL).
            if !busy || monotonic() > deadline {
                throw PluginError.noFreeVF("no free VF on \(conf.pfs.map(\.value).joined(separator: ", ")) (\(total) VFs, all attached or without a netdev)"
                    + (missing.isEmpty ? "" : "; not found: \(missing.joined(separator: ", "))"))
            }
            usleep(5_000)
        }
    }

    func claimDevice(_ dev: PCIAddress, _ conf: NetConf, key: AttachmentKey, log: Log) throws -> Claim {
        guard let fn = nics.function(dev) else { throw PluginError.invalidConfig("deviceID \(dev): no such PCI device") }
        guard let pf = fn.physfn, let index = pf.index(of: dev) else {
            throw PluginError.invalidConfig("deviceID \(dev) is not an SR-IOV VF (it has no physfn)")
        }
        if !conf.pfs.isEmpty {
            let names = pf.netdevs
            guard conf.pfs.contains(where: { names.contains($0.value) }) else {
                throw PluginError.invalidConfig("deviceID \(dev) belongs to PF \(names.first ?? pf.description), not to \(conf.pfs.map(\.value).joined(separator: ", "))")
            }
        }
        let driver = try nics.open(pf)
        let lock = try state.lock(dev)
        try driver.refresh(vf: index)
        if let r = try state.record(of: dev) {
            if r.netnsAlive {
                throw PluginError.deviceBusy("VF \(dev) is attached to container \(r.key.containerID) as \(r.key.ifname) on network \(r.key.network)")
            }
            log.info("reclaiming VF \(dev) from \(r.key.containerID), whose namespace is gone")
            try release(r, lock: lock, netns: nil, log: log)
        }
        // A device plugin may have bound the VF to vfio-pci already (as sriov-cni's DPDK mode
        // expects): that is vfio mode unless the config insists on a netdev.
        if fn.driver == "vfio-pci" {
            if conf.mode == .kernel {
                throw PluginError.deviceBusy("VF \(dev) is bound to vfio-pci: kernel mode needs its netdev (bind it to its VF driver, or set mode vfio)")
            }
            return Claim(lock: lock, pf: pf, vf: fn, index: index, driver: driver, netdev: nil, mode: .vfio)
        }
        guard let netdev = fn.netdevs.first else {
            throw PluginError.deviceBusy("VF \(dev) has no netdev in the host namespace (driver \(fn.driver ?? "none")): it is in use elsewhere or not bound to its VF driver")
        }
        return Claim(lock: lock, pf: pf, vf: fn, index: index, driver: driver, netdev: netdev, mode: conf.mode ?? .kernel)
    }
}

import CNIProtocol
import FileSystem
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

/// ADD: claim a VF, record it, set its table entry, and hand it to the container.
extension VFWire {
    public func add(_ env: CNIEnvironment, _ conf: NetConf) throws -> CNIResult {
        let log = Log(conf, context: "ADD \(env.containerID!) \(env.ifname!)")
        if conf.pfs.isEmpty && conf.deviceID == nil {
            throw PluginError.invalidConfig("no VF to use: set deviceID (a VF's PCI address) or pf (PFs to take a free VF from)")
        }
        let key = key(conf, env)
        let ifname = env.ifname!.value
        let target = try NetNS(path: env.netns!)
        // Any path to the host's own namespace (/proc/self/ns/net, a bind mount of it) would
        // have the VF renamed in the host and recorded as a container's.
        if target.identity == (try NetNS.current()).identity {
            throw CNIError.invalidEnvironment("CNI_NETNS \(target.path) is the host's own network namespace: name the container's")
        }
        try state.prepare()

        if let held = state.vf(for: key, scan: false), let r = try? state.record(of: held), r.key == key, r.netnsAlive {
            throw PluginError.deviceBusy("\(key.containerID) already has \(ifname) on network \(key.network) (VF \(held)): DEL it first")
        }
        if conf.mode != .vfio, try target.run({ () throws in try Netlink().link(named: ifname) }) != nil {
            throw PluginError.deviceBusy("the container already has an interface named \(ifname)")
        }

        let claim = try self.claim(conf, key: key, env: env, log: log)
        state.sweep(claim.vf.address)
        let mode = claim.mode
        var netdev: NetdevState?
        var hostLink: LinkInfo?
        if let name = claim.netdev {
            guard let l = try Netlink().link(named: name) else { throw PluginError.deviceBusy("VF \(claim.vf) netdev \(name) vanished") }
            hostLink = l
            netdev = NetdevState(name: l.name, mac: l.mac, mtu: l.mtu, up: l.isUp, ifindex: l.ifindex)
        }
        let original = try claim.driver.config(vf: claim.index)
        let change = conf.vf.change(from: original)
        var record = AllocationRecord(
            key: key, vf: claim.vf.address, pf: claim.pf.address, vfIndex: claim.index,
            sysfsRoot: claim.pf.root.path, netns: target.path, netnsID: target.identity, mode: mode,
            original: original, netdev: netdev, originalDriver: claim.vf.driver, applied: change)
        record.ipam = conf.ipamType.map {
            IPAMLease(type: $0, paths: env.path, netconf: String(decoding: conf.delegateInput(version: conf.cniVersion), as: UTF8.self))
        }

        // The record goes down before the first change, so a crash at any later point leaves
        // enough behind for DEL, GC or the next ADD's reclaim to restore the VF.
        try state.write(record, lock: claim.lock)
        var ipamDelegate: Delegate?
        var ipam: Delegate.Running?
        do {
            // Field by field: after a refusal, the record must list only what was applied, or
            // undoing would ask the driver for the very setting it just refused.
            var done = VFChange()
            for setting in change.settings {
                do { try claim.driver.apply(vf: claim.index, setting.change) } catch {
                    record.applied = done
                    try state.write(record, lock: claim.lock)
                    throw error
                }
                done = done.merging(setting.change)
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
        do { return try JSON.decode(CNIResult.self, from: out) } catch {
            throw PluginError.decode("IPAM plugin \(type ?? "") returned no result: \(error)")
        }
    }

    /// Moves the VF netdev into the container and renames it in one request, with MAC, MTU and
    /// up in the same message (the kernel applies them after the move), then IPAM's addresses.
    func attachKernel(_ conf: NetConf, claim: Claim, link: LinkInfo, into target: NetNS, ifname: String,
                      ipam running: Delegate.Running?, log: Log) throws -> CNIResult {
        var link = link
        var names: VFLock?
        if let mac = conf.vf.mac, link.mac != mac { (link, names) = try adoptMAC(mac, link: link, claim: claim, log: log) }
        try Netlink().modify(ifindex: link.ifindex,
                             LinkChange(name: ifname, netnsFD: target.fd, mtu: conf.mtu, up: true),
                             what: "cannot move VF \(claim.vf) (\(link.name)) into \(target.path) as \(ifname)")
        withExtendedLifetime(names) {}
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
    /// registers anew, under a new name, is the one that moves; the host's netdev names stay held
    /// (the returned lock) until it has moved, since that name may be one another VF wants back.
    func adoptMAC(_ mac: MACAddress, link: LinkInfo, claim: Claim, log: Log) throws -> (LinkInfo, VFLock?) {
        let nl = try Netlink()
        do {
            try nl.modify(ifindex: link.ifindex, LinkChange(mac: mac), what: "VF \(claim.vf) refused MAC \(mac)")
            return (try nl.link(index: link.ifindex) ?? link, nil)
        } catch {
            guard let driver = claim.vf.driver else { throw error }
            log.info("\(error); reloading \(driver) so that it adopts the admin MAC")
            let names = try state.netdevNamesLock()
            try claim.vf.reload()
            try awaitNetdev(claim.vf, vf: claim.index, driver: claim.driver)
            guard let name = claim.vf.netdevs.first, let l = try nl.link(named: name) else {
                throw PluginError.deviceBusy("VF \(claim.vf) has no netdev after reloading \(driver)")
            }
            guard l.mac == mac else {
                throw PFDriverError.refused("VF \(claim.vf) (driver \(driver)) did not adopt its admin MAC \(mac) after a reload; it has \(l.mac?.description ?? "none")")
            }
            return (l, names)
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
}

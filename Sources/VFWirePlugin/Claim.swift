import CNIProtocol
import Netconf
import PFDriver
import Sysfs
import VFState
import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

/// Which VF an ADD gets: a free one of the configured PFs, or the one deviceID names.
extension VFWire {
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

    func claim(_ conf: NetConf, key: AttachmentKey, env: CNIEnvironment, log: Log) throws -> Claim {
        if let dev = conf.deviceID { return try claimDevice(dev, conf, key: key, env: env, log: log) }
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
                    // A claim without a record is what a DEL killed between the two left.
                    if lock.claimAlive == true && state.hasRecord(fn.address) { continue }
                    let record = try readRecord(fn.address, lock: lock, log: log)
                    if state.isQuarantined(fn.address) { continue }
                    if let r = record {
                        if r.netnsAlive { continue }
                        log.info("reclaiming VF \(fn) from \(r.key.containerID), whose namespace is gone")
                        try release(r, lock: lock, netns: nil, log: log)
                        releaseLease(r, environment: env.all, log: log)
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
                throw PluginError.invalidConfig("pf: no SR-IOV PF named \(missing.joined(separator: ", ")); \(nics.pfHint())")
            }
            // A VF locked by an operation in flight may be about to come free (a DEL).
            if !busy || monotonic() > deadline {
                throw PluginError.noFreeVF("no free VF on \(conf.pfs.map(\.value).joined(separator: ", ")) (\(total) VFs): "
                    + holders(conf.pfs).joined(separator: "; ")
                    + (missing.isEmpty ? "" : "; not found: \(missing.joined(separator: ", "))") + " (vfwirectl ls shows them all)")
            }
            usleep(5_000)
        }
    }

    func claimDevice(_ dev: PCIAddress, _ conf: NetConf, key: AttachmentKey, env: CNIEnvironment, log: Log) throws -> Claim {
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
        let record = try readRecord(dev, lock: lock, log: log)
        if state.isQuarantined(dev) {
            throw PluginError.deviceBusy("VF \(dev) has a corrupt allocation record, kept as \(state.quarantinePath(dev)): check the VF, then remove that file")
        }
        if let r = record {
            if r.netnsAlive {
                throw PluginError.deviceBusy("VF \(dev) is attached to container \(r.key.containerID) as \(r.key.ifname) on network \(r.key.network)")
            }
            log.info("reclaiming VF \(dev) from \(r.key.containerID), whose namespace is gone")
            try release(r, lock: lock, netns: nil, log: log)
                        releaseLease(r, environment: env.all, log: log)
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

    /// Who holds each VF of `pfs`, for the message that says there is no free one.
    func holders(_ pfs: [InterfaceName]) -> [String] {
        pfs.compactMap { nics.pf(netdev: $0) }.flatMap { pf in
            pf.virtfns().sorted { $0.key < $1.key }.map { (_, fn) in
                if state.isQuarantined(fn.address) { return "\(fn) quarantined" }
                if let r = try? state.record(of: fn.address) {
                    return "\(fn) \(r.netnsAlive ? "attached to" : "stale, of") \(r.key.network)/\(r.key.containerID)/\(r.key.ifname)"
                }
                return "\(fn) \(fn.netdevs.isEmpty ? "without a host netdev (another tool's)" : "in flight")"
            }
        }
    }

    /// A VF's record, or nil when it has none or its record was corrupt and is now quarantined.
    func readRecord(_ vf: PCIAddress, lock: VFLock, log: Log) throws -> AllocationRecord? {
        do { return try state.record(of: vf) } catch let e as StateError {
            guard case .corrupt = e else { throw e }
            state.quarantine(vf, lock: lock)
            log.error("\(e); kept as \(state.quarantinePath(vf)) for a human")
            return nil
        }
    }
}

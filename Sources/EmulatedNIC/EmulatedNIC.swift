import FileSystem
import JSON
import Netlink
import PFDriver
import Sysfs
import VFWireTypes

/// A request `vfwirectl sim` cannot carry out: a bad name or count, or no room left.
public struct EmulatedNICError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ message: String) { description = message }
}

/// The emulated NIC as vfwire finds NICs: its own sysfs tree, whose PFs `EmulatedPFDriver` drives.
public struct EmulatedNICs: NICBackend {
    public let sysfs: SysfsRoot
    public init(sysfs: SysfsRoot = EmulatedNIC.sysfs) { self.sysfs = sysfs }

    public func open(_ pf: PCIFunction) throws -> PFDriver {
        guard pf.driver == EmulatedPFDriver.driverName else {
            throw PFDriverError.unavailable("PF \(pf) is not bound to \(EmulatedPFDriver.driverName)")
        }
        return try EmulatedPFDriver(pf)
    }

    /// Every emulated PF is a PCI function of the tree.
    public func open(nonPCI netdev: InterfaceName) throws -> (PFDriver, vfs: Int)? { nil }
}

/// Builds and removes emulated SR-IOV PFs: a sysfs tree laid out as the kernel's under
/// `EmulatedNIC.sysfs`, a bridge as the PF netdev, and a veth pair per VF. Once built, a PF is
/// found by name like a real one (`class/net/NAME/device`), and `EmulatedPFDriver` drives it.
public enum EmulatedNIC {
    /// Where `vfwirectl sim` lays out emulated PCI devices.
    public static let sysfs = SysfsRoot(RunPaths.standard.emulatedSysfs)

    /// Emulated devices live in their own PCI domain so they never shadow a real address.
    public static let domain: UInt32 = 0x00fe
    /// 128, as larger NICs offer: a testbed of 64 links needs 128 VFs.
    public static let maxVFs = 128

    /// Sim names leave room for the switch's port and VLAN-bridge names inside IFNAMSIZ.
    public static func validate(name: String) throws -> InterfaceName {
        guard let n = InterfaceName(name), name.utf8.count <= 10, !name.contains("."), !name.contains("_"), !name.contains("+") else {
            throw EmulatedNICError("sim name '\(name)' must be an interface name of at most 10 bytes without '.', '_', '+', '/', ':' or spaces")
        }
        return n
    }

    static var root: String { sysfs.path }

    public static func create(name: String, vfs: Int) throws -> PCIFunction {
        let pfName = try validate(name: name)
        guard (1...maxVFs).contains(vfs) else { throw EmulatedNICError("--vfs must be from 1 to \(maxVFs)") }
        if sysfs.pf(netdev: pfName) != nil { throw EmulatedNICError("a PF named \(name) exists already") }
        let nl = try Netlink()
        if try nl.link(named: name) != nil { throw EmulatedNICError("a netdev named \(name) exists already") }

        try FS.mkdirs(root + "/bus/pci/devices")
        try FS.mkdirs(root + "/bus/pci/drivers/" + EmulatedPFDriver.driverName)
        try FS.mkdirs(root + "/bus/pci/drivers/" + EmulatedPFDriver.vfDriverName)
        try FS.mkdirs(root + "/class/net")
        let bus = try freeBus()
        let pfAddr = PCIAddress(domain: domain, bus: bus, device: 0, function: 0)

        do {
            try nl.addBridge(name: name)
            guard let br = try nl.link(named: name) else { throw NetlinkError.failed("bridge \(name) vanished") }
            try nl.modify(ifindex: br.ifindex, LinkChange(up: true), what: "cannot bring up \(name)")

            let pfDir = try device(pfAddr, driver: EmulatedPFDriver.driverName, group: groupNumber(pfAddr))
            try netdevEntry(pfDir, pfAddr, name)
            try FS.symlink("../../" + devPath(pfAddr) + "/net/" + name, root + "/class/net/" + name)
            try FS.write(pfDir + "/sriov_totalvfs", "\(maxVFs)\n")
            try FS.write(pfDir + "/sriov_numvfs", "\(vfs)\n")
            try FS.mkdirs(pfDir + "/" + EmulatedPFDriver.driverName)

            for i in 0..<vfs {
                // VFs follow the PF at offset 1, stride 1, as most NICs lay them out.
                let devfn = i + 1
                let vfAddr = PCIAddress(domain: domain, bus: bus, device: UInt8(devfn >> 3), function: UInt8(devfn & 7))
                let vfDir = try device(vfAddr, driver: EmulatedPFDriver.vfDriverName, group: groupNumber(vfAddr))
                try FS.symlink("../" + vfAddr.description, pfDir + "/virtfn\(i)")
                try FS.symlink("../" + pfAddr.description, vfDir + "/physfn")
                try FS.writeAtomically(pfDir + "/\(EmulatedPFDriver.driverName)/vf\(i).json",
                                       (try? JSON.encode(VFConfig())) ?? [])
                let vfName = EmulatedPFDriver.vfName(pf: name, vf: i)
                let port = EmulatedPFDriver.portName(pf: name, vf: i)
                try nl.addVeth(name: vfName, peer: port, mac: EmulatedPFDriver.vfMAC(pf: pfAddr, vf: i),
                               peerMAC: EmulatedPFDriver.portMAC(pf: pfAddr, vf: i))
                guard let p = try nl.link(named: port) else { throw NetlinkError.failed("veth \(port) vanished") }
                try nl.modify(ifindex: p.ifindex, LinkChange(up: true, master: br.ifindex), what: "cannot attach \(port) to \(name)")
                try FS.mkdirs(vfDir + "/net/" + vfName)
            }
        } catch {
            destroy(pf: pfAddr, name: name)
            throw error
        }
        return sysfs.function(pfAddr)
    }

    /// Removes an emulated PF and everything it made; a VF netdev inside a container goes
    /// with its peer. A cable goes too, so the PF at its other end is left uncabled.
    public static func destroy(name: String) throws {
        _ = try validate(name: name)
        // Its segments go with its links below; the peer's record of the cable needs uncable.
        if let driver = try? emulated(name), let c = (try? driver.cable()) ?? nil, (try? emulated(c.peer)) != nil {
            try uncable(name, c.peer)
        }
        // Found through the device tree rather than class/net, so a half-made PF goes too.
        let pfs = FS.list(root + "/bus/pci/devices").compactMap(PCIAddress.init).map(sysfs.function)
            .filter { $0.driver == EmulatedPFDriver.driverName && $0.netdevs.contains(name) }
        guard !pfs.isEmpty else { throw EmulatedNICError("no emulated PF named \(name)") }
        for pf in pfs { destroy(pf: pf.address, name: name) }
    }

    static func destroy(pf: PCIAddress, name: String) {
        if let nl = try? Netlink(), let links = try? nl.links() {
            for l in links where l.name == name || ["_", ".", "+"].contains(where: { l.name.hasPrefix(name + $0) }) {
                try? nl.deleteLink(ifindex: l.ifindex)
            }
        }
        for (_, vf) in sysfs.function(pf).virtfns() { removeDevice(vf.address) }
        removeDevice(pf)
        FS.removeTree(root + "/class/net/" + name)
    }

    /// Every emulated PF, by netdev name.
    public static func list() -> [(name: String, pf: PCIFunction)] {
        FS.list(root + "/class/net").sorted().compactMap { n in
            guard let i = InterfaceName(n), let pf = sysfs.pf(netdev: i) else { return nil }
            return (n, pf)
        }
    }

    static func devPath(_ a: PCIAddress) -> String { "devices/\(EmulatedPFDriver.driverName)/\(a)" }

    static func groupNumber(_ a: PCIAddress) -> Int { 100_000 + Int(a.bus) * 256 + a.devfn }

    private static func device(_ a: PCIAddress, driver: String, group: Int) throws -> String {
        let dir = root + "/" + devPath(a)
        try FS.mkdirs(dir + "/net")
        try FS.symlink("../../../" + devPath(a), root + "/bus/pci/devices/" + a.description)
        try FS.symlink("../../bus/pci/drivers/" + driver, dir + "/driver")
        let g = root + "/kernel/iommu_groups/\(group)"
        try FS.mkdirs(g + "/devices")
        try FS.symlink("../../../../" + devPath(a), g + "/devices/" + a.description)
        try FS.symlink("../../kernel/iommu_groups/\(group)", dir + "/iommu_group")
        return dir
    }

    /// `net/NAME/device` points back at the function as the kernel's link does: `../../../ADDR`.
    private static func netdevEntry(_ devDir: String, _ a: PCIAddress, _ name: String) throws {
        try FS.mkdirs(devDir + "/net/" + name)
        try FS.symlink("../../../" + a.description, devDir + "/net/" + name + "/device")
    }

    private static func removeDevice(_ a: PCIAddress) {
        FS.removeTree(root + "/" + devPath(a))
        FS.removeTree(root + "/bus/pci/devices/" + a.description)
        FS.removeTree(root + "/kernel/iommu_groups/\(groupNumber(a))")
    }

    private static func freeBus() throws -> UInt8 {
        let used = Set(FS.list(root + "/bus/pci/devices").compactMap(PCIAddress.init).map(\.bus))
        guard let b = (1...255).first(where: { !used.contains(UInt8($0)) }) else {
            throw EmulatedNICError("no free emulated PCI bus: destroy an emulated PF first")
        }
        return UInt8(b)
    }
}

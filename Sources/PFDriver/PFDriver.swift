import FileSystem
import Netlink
import Sysfs
import VFWireTypes

/// A PF that cannot serve: not a PF at all, one whose driver cannot be reached now, or a
/// driver that refused a VF setting (with the driver, the setting and the errno).
public enum PFDriverError: Error, CustomStringConvertible, Sendable {
    case notAPF(String)
    case unavailable(String)
    case refused(String)
    public var description: String { switch self { case .notAPF(let m), .unavailable(let m), .refused(let m): m } }
}

/// Whatever changes a PF's VF table. vfwire above this line does not know which NIC it has:
/// real drivers go through netlink (IFLA_VF_*), an emulated NIC through a driver of its own.
public protocol PFDriver: AnyObject {
    /// The PF's kernel driver name, for messages.
    var driverName: String { get }
    /// Makes the sysfs view of VF `vf` (of every VF, for nil) current. The kernel does this by
    /// itself; an emulation has to.
    func refresh(vf: Int?) throws
    func config(vf: Int) throws -> VFConfig
    /// Applies only the fields `change` sets.
    func apply(vf: Int, _ change: VFChange) throws
    /// What tells VF `vf`'s netdev from every other, in whichever namespace it is now: made
    /// here, then asked of the links of each namespace searched, from inside it, where the
    /// host's sysfs cannot see.
    func netdevTest(vf: PCIFunction, index: Int) throws -> (LinkInfo) -> Bool
    /// The VF's netdev as the NIC makes it, as far as the driver knows: what gives a VF back
    /// when the record of what it was is lost.
    func pristineNetdev(vf: Int) -> PristineNetdev
}

/// A VF netdev's name and MAC when its VF is created; nil where the driver cannot know them.
public struct PristineNetdev: Equatable, Sendable {
    public var name: String?
    public var mac: MACAddress?
    public init(name: String?, mac: MACAddress?) { self.name = name; self.mac = mac }
}

/// One kind of SR-IOV NIC: the sysfs tree its PCI functions appear in, and how a PF there gets
/// its driver. The executable says which kinds there are; nothing below it names one.
public protocol NICBackend: Sendable {
    var sysfs: SysfsRoot { get }
    /// The driver of `pf`, a function of `sysfs`.
    func open(_ pf: PCIFunction) throws -> PFDriver
    /// The driver of a PF netdev that is no PCI function of `sysfs`, if this kind has such PFs.
    func open(nonPCI netdev: InterfaceName) throws -> (PFDriver, vfs: Int)?
}

/// Real NICs: the kernel's /sys, the VF table through the PF netdev's netlink.
public struct KernelNICs: NICBackend {
    public let sysfs: SysfsRoot
    public init(sysfs: SysfsRoot = .kernel) { self.sysfs = sysfs }

    /// The driver for `pf`, chosen by the kernel driver bound to it.
    public func open(_ pf: PCIFunction) throws -> PFDriver {
        guard let name = pf.driver else {
            throw PFDriverError.unavailable("PF \(pf) has no driver bound: bind its NIC driver before using its VFs")
        }
        guard let netdev = pf.netdevs.first else {
            throw PFDriverError.unavailable("PF \(pf) (driver \(name)) has no netdev in this namespace to reach its VF table through")
        }
        return try NetlinkPFDriver(netdev: netdev, driver: name)
    }

    /// PFs that are not PCI functions (netdevsim) are reached through netlink alone.
    public func open(nonPCI name: InterfaceName) throws -> (PFDriver, vfs: Int)? {
        let device = sysfs.path + "/class/net/" + name.value + "/device"
        guard let driver = FS.readlink(device + "/driver").map(FS.basename) else { return nil }
        guard let n = FS.readInt(device + "/sriov_numvfs") else { throw PFDriverError.notAPF("\(name) has no SR-IOV VFs") }
        return (try NetlinkPFDriver(netdev: name.value, driver: driver), n)
    }
}

/// The NICs vfwire may use, searched in order: the executable puts the kernel's first, so a
/// real device always wins over an emulated one.
public struct NICs: Sendable {
    public let backends: [any NICBackend]
    public init(_ backends: [any NICBackend]) { self.backends = backends }

    /// The PCI function behind PF netdev `name`.
    public func pf(netdev name: InterfaceName) -> PCIFunction? {
        backends.lazy.compactMap { $0.sysfs.pf(netdev: name) }.first
    }

    /// The PCI function at `address` in whichever tree has it.
    public func function(_ address: PCIAddress) -> PCIFunction? {
        backends.lazy.compactMap { $0.sysfs.existing(address) }.first
    }

    /// The driver of `pf`, by the tree it was found in.
    public func open(_ pf: PCIFunction) throws -> PFDriver {
        guard let backend = backends.first(where: { $0.sysfs == pf.root }) else {
            throw PFDriverError.notAPF("PF \(pf) is in \(pf.root.path), which no NIC vfwire knows lays out")
        }
        return try backend.open(pf)
    }

    /// Every PF netdev with VFs, by name, each tree's in order: what a message naming a PF
    /// that is not there offers instead.
    public func pfs() -> [(name: InterfaceName, pf: PCIFunction)] {
        backends.flatMap { b in
            FS.list(b.sysfs.path + "/class/net").sorted().compactMap { n -> (name: InterfaceName, pf: PCIFunction)? in
                guard let i = InterfaceName(n), let pf = b.sysfs.pf(netdev: i), !pf.virtfns().isEmpty else { return nil }
                return (i, pf)
            }
        }
    }

    /// "PFs here: a, b" (or that there are none), for messages about a PF that is not one.
    public func pfHint() -> String {
        let names = pfs().map(\.name.value)
        return names.isEmpty ? "there is no SR-IOV PF here (vfwirectl sim create makes an emulated one)"
            : "PFs here: " + names.joined(separator: ", ")
    }

    /// The driver of the PF with netdev `name`, and its VF count.
    public func open(netdev name: InterfaceName) throws -> (PFDriver, vfs: Int) {
        if let pf = pf(netdev: name) { return (try open(pf), pf.virtfns().count) }
        for b in backends { if let found = try b.open(nonPCI: name) { return found } }
        let exists = backends.contains { FS.exists($0.sysfs.path + "/class/net/" + name.value) }
        throw PFDriverError.notAPF((exists ? "\(name) is not an SR-IOV PF" : "no interface named \(name)") + "; \(pfHint())")
    }
}

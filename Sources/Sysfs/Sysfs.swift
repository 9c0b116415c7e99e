import FileSystem
import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

/// A tree laid out like /sys: the kernel's own, or the emulated NIC's. Everything above the PF
/// driver reads PCI topology through this type only, so both look the same to it.
public struct SysfsRoot: Hashable, Sendable {
    public let path: String
    public init(_ path: String) { self.path = path }

    public static let kernel = SysfsRoot("/sys")
    /// Where `vfwirectl sim` lays out emulated PCI devices.
    public static let emulated = SysfsRoot("/run/vfwire/sim/sys")

    /// The roots searched, kernel first, so a real device always wins.
    public static let all: [SysfsRoot] = [.kernel, .emulated]

    public func function(_ address: PCIAddress) -> PCIFunction {
        PCIFunction(root: self, address: address)
    }
}

/// One PCI function in a sysfs tree.
public struct PCIFunction: Hashable, Sendable, CustomStringConvertible {
    public let root: SysfsRoot
    public let address: PCIAddress

    public var dir: String { root.path + "/bus/pci/devices/" + address.description }
    public var description: String { address.description }

    public var exists: Bool { FS.exists(dir) }

    /// The bound driver's name, or nil when unbound.
    public var driver: String? { FS.readlink(dir + "/driver").map(FS.basename) }

    /// For a VF, its PF.
    public var physfn: PCIFunction? {
        FS.readlink(dir + "/physfn").map(FS.basename).flatMap(PCIAddress.init).map(root.function)
    }

    /// For a PF, its VFs by index.
    public func virtfns() -> [Int: PCIFunction] {
        var out: [Int: PCIFunction] = [:]
        for entry in FS.list(dir) where entry.hasPrefix("virtfn") {
            guard let n = Int(entry.dropFirst(6)),
                  let a = FS.readlink(dir + "/" + entry).map(FS.basename).flatMap(PCIAddress.init)
            else { continue }
            out[n] = root.function(a)
        }
        return out
    }

    /// The netdevs of this function that are in the sysfs mounter's network namespace (the
    /// host's): a VF moved into a container has none here.
    public var netdevs: [String] { FS.list(dir + "/net").sorted() }

    public var iommuGroup: Int? { FS.readlink(dir + "/iommu_group").map(FS.basename).flatMap { Int($0) } }

    /// The VF index of `vf` under this PF.
    public func index(of vf: PCIAddress) -> Int? {
        virtfns().first { $0.value.address == vf }?.key
    }
}

public enum Sysfs {
    /// The PCI function behind netdev `name`, searching each root's class/net.
    public static func pf(netdev name: InterfaceName) -> PCIFunction? {
        for root in SysfsRoot.all {
            let link = root.path + "/class/net/" + name.value + "/device"
            if let target = FS.readlink(link), let a = PCIAddress(FS.basename(target)) {
                return root.function(a)
            }
        }
        return nil
    }

    /// The PCI function at `address` in whichever root has it.
    public static func function(_ address: PCIAddress) -> PCIFunction? {
        SysfsRoot.all.lazy.map { $0.function(address) }.first { $0.exists }
    }
}


import FileSystem
import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

/// A tree laid out like /sys: the kernel's own, or one an emulation lays out the same way.
/// Everything above the PF driver reads PCI topology through this type only, so all look the
/// same to it.
public struct SysfsRoot: Hashable, Sendable {
    public let path: String
    public init(_ path: String) { self.path = path }

    public static let kernel = SysfsRoot("/sys")

    public func function(_ address: PCIAddress) -> PCIFunction {
        PCIFunction(root: self, address: address)
    }

    /// The PCI function behind netdev `name`, through class/net.
    public func pf(netdev name: InterfaceName) -> PCIFunction? {
        let link = path + "/class/net/" + name.value + "/device"
        guard let target = FS.readlink(link), let a = PCIAddress(FS.basename(target)) else { return nil }
        return function(a)
    }

    /// The PCI function at `address`, if this tree has it.
    public func existing(_ address: PCIAddress) -> PCIFunction? {
        let fn = function(address)
        return fn.exists ? fn : nil
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

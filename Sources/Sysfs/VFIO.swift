import FileSystem
import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

/// What keeps a PCI function from being used as asked: the machine or device cannot do it
/// (no IOMMU, no driver_override), a group holds a device a host driver keeps, or a driver
/// did not do what sysfs was told.
public enum SysfsError: Error, CustomStringConvertible, Sendable {
    case unusable(String)
    case notViable(String)
    case failed(String)
    public var description: String { switch self { case .unusable(let m), .notViable(let m), .failed(let m): m } }
}

/// An IOMMU group, and the rule vfio enforces on it: a group is only usable by a guest or a
/// userspace driver when no device in it is left to a host driver.
public struct IOMMUGroup: Equatable, Sendable {
    public let number: Int
    public let root: SysfsRoot

    public init(number: Int, root: SysfsRoot = .kernel) { self.number = number; self.root = root }

    public var dir: String { root.path + "/kernel/iommu_groups/\(number)" }
    public var devicePath: String { "/dev/vfio/\(number)" }

    public var members: [PCIFunction] {
        FS.list(dir + "/devices").compactMap(PCIAddress.init).sorted().map(root.function)
    }

    /// Refuses a machine that has no IOMMU at all: vfio cannot isolate a device there.
    public static func requireIOMMU(_ root: SysfsRoot = .kernel) throws {
        guard !FS.list(root.path + "/kernel/iommu_groups").isEmpty else {
            throw SysfsError.unusable("no IOMMU: the kernel has no IOMMU groups. Enable VT-d/AMD-Vi in firmware and boot with intel_iommu=on or amd_iommu=on")
        }
    }

    /// The group of `fn`, refusing when the machine has no IOMMU at all.
    public static func of(_ fn: PCIFunction) throws -> IOMMUGroup {
        try requireIOMMU(fn.root)
        guard let n = fn.iommuGroup else {
            throw SysfsError.unusable("\(fn) is in no IOMMU group: it cannot be passed to vfio")
        }
        return IOMMUGroup(number: n, root: fn.root)
    }

    /// Every device must be bound to vfio-pci or to no driver; PCI bridges are ignored, as
    /// vfio itself ignores them.
    public func checkViable() throws {
        guard FS.exists(dir) else { throw SysfsError.unusable("IOMMU group \(number) does not exist") }
        let offenders = members.filter { !$0.isBridge }.compactMap { fn -> String? in
            guard let d = fn.driver, d != "vfio-pci" else { return nil }
            return "\(fn) (\(d))"
        }
        if !offenders.isEmpty {
            throw SysfsError.notViable("IOMMU group \(number) is not viable for vfio: \(offenders.joined(separator: ", ")) "
                + "must be bound to vfio-pci or unbound first")
        }
    }
}

extension PCIFunction {
    /// PCI class 0x0604: a PCI-to-PCI bridge.
    public var isBridge: Bool {
        guard let c = FS.readString(dir + "/class") else { return false }
        return c.lowercased().hasPrefix("0x0604")
    }

    /// Unbinds and binds the same driver again: the driver probes the device afresh.
    public func reload() throws {
        guard let d = driver else { throw SysfsError.failed("\(self) has no driver to reload") }
        try FS.write(dir + "/driver/unbind", address.description)
        try FS.write(root.path + "/bus/pci/drivers/" + d + "/bind", address.description)
    }

    /// Rebinds this function to `driver` as the kernel documents it: driver_override names the
    /// only driver that may take the device, unbind lets go of the current one, drivers_probe
    /// lets the new one take it. Passing nil clears the override and probes with the device's
    /// own ID table, which brings back its native driver.
    public func rebind(to driver: String?) throws {
        let override = dir + "/driver_override"
        guard FS.exists(override) else {
            throw SysfsError.unusable("\(self) cannot change drivers: it has no driver_override (an emulated VF cannot be bound to vfio-pci)")
        }
        try FS.write(override, (driver ?? "") + "\n")
        if let current = self.driver, current != driver {
            try FS.write(dir + "/driver/unbind", address.description)
        }
        if self.driver == nil {
            // Probing fails harmlessly (ENODEV) when no driver wants the device; the check below tells.
            try? FS.write(root.path + "/bus/pci/drivers_probe", address.description)
        }
        if let driver, self.driver != driver {
            throw SysfsError.failed("\(self) did not bind to \(driver) (it has \(self.driver ?? "no driver")); is the \(driver) module loaded?")
        }
    }
}

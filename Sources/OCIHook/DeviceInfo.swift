import FoundationEssentials
import FileSystem
import Sysfs
import VFWireTypes

/// What a userspace driver in the container needs to find its VF, in the Network Plumbing
/// WG's Device Information Specification format (type "pci"), plus the vfio group device,
/// which the spec has no field for.
struct DeviceInfo: Encodable {
    struct PCI: Encodable {
        var pciAddress: String
        enum CodingKeys: String, CodingKey { case pciAddress = "pci-address" }
    }
    var type = "pci"
    var version = "1.1.0"
    var pci: PCI
    var vfioDevice: String
    enum CodingKeys: String, CodingKey { case type, version, pci, vfioDevice = "vfio-device" }

    init(pciAddress: String?, vfioDevice: String) {
        pci = PCI(pciAddress: pciAddress ?? "")
        self.vfioDevice = vfioDevice
    }

    func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do { try FS.writeAtomically(path, Array(encoder.encode(self)) + [0x0a]) }
        catch let e as FSError { throw e } catch { throw HookError.io("cannot encode device info: \(error)") }
    }
}

import FileSystem
import Sysfs
import VFWireTypes

/// Whatever changes a PF's VF table. vfwire above this line does not know which NIC it has:
/// real drivers go through netlink (IFLA_VF_*), the emulated NIC through `EmulatedPFDriver`.
public protocol PFDriver: AnyObject {
    /// The PF's kernel driver name, for messages.
    var driverName: String { get }
    /// Makes the sysfs view of VF `vf` (of every VF, for nil) current. The kernel does this by
    /// itself; an emulation has to.
    func refresh(vf: Int?) throws(VFWireError)
    func config(vf: Int) throws(VFWireError) -> VFConfig
    /// Applies only the fields `change` sets.
    func apply(vf: Int, _ change: VFChange) throws(VFWireError)
}

public enum PFDrivers {
    /// The driver for `pf`, chosen by the kernel driver bound to it.
    public static func open(_ pf: PCIFunction) throws(VFWireError) -> PFDriver {
        switch pf.driver {
        case EmulatedPFDriver.driverName?:
            return try EmulatedPFDriver(pf)
        case nil:
            throw .deviceBusy("PF \(pf) has no driver bound: bind its NIC driver before using its VFs")
        case let name?:
            guard let netdev = pf.netdevs.first else {
                throw .deviceBusy("PF \(pf) (driver \(name)) has no netdev in this namespace to reach its VF table through")
            }
            return try NetlinkPFDriver(netdev: netdev, driver: name)
        }
    }

    /// The driver of the PF with netdev `name`, and its VF count. PFs that are not PCI
    /// functions (netdevsim) are reached through netlink alone.
    public static func open(netdev name: InterfaceName) throws(VFWireError) -> (PFDriver, vfs: Int) {
        if let pf = Sysfs.pf(netdev: name) { return (try open(pf), pf.virtfns().count) }
        let device = SysfsRoot.kernel.path + "/class/net/" + name.value + "/device"
        guard let driver = FS.readlink(device + "/driver").map(FS.basename) else {
            throw .invalidConfig("\(name) is not an SR-IOV PF: it has no device driver")
        }
        guard let n = FS.readInt(device + "/sriov_numvfs") else { throw .invalidConfig("\(name) has no SR-IOV VFs") }
        return (try NetlinkPFDriver(netdev: name.value, driver: driver), n)
    }
}

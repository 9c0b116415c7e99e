import Sysfs
import VFWireTypes

/// Whatever changes a PF's VF table. vfwire above this line does not know which NIC it has:
/// real drivers go through netlink (IFLA_VF_*), the emulated NIC through `EmulatedPFDriver`.
public protocol PFDriver: AnyObject {
    var pf: PCIFunction { get }
    /// The PF's kernel driver name, for messages.
    var driverName: String { get }
    /// Makes the sysfs view current. The kernel does this by itself; an emulation has to.
    func refresh() throws(VFWireError)
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
            return try NetlinkPFDriver(pf, driver: name)
        }
    }
}

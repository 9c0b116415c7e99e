import Netlink
import Sysfs
import VFWireTypes

/// A real SR-IOV PF: the VF table is read from IFLA_VFINFO_LIST and changed with IFLA_VF_*
/// through the PF netdev, one setting per request, so a refusal names its setting.
///
/// What drivers refuse differs (igb: link_state gives EOPNOTSUPP, a min_tx_rate EINVAL, 802.1ad
/// EPROTONOSUPPORT, max_tx_rate EINVAL while the PF has no carrier), so vfwire never touches a
/// setting the config does not name, and reports the driver, the setting and the errno.
public final class NetlinkPFDriver: PFDriver {
    public let driverName: String
    let pfName: String
    private let nl: Netlink

    public init(netdev: String, driver: String) throws {
        driverName = driver
        pfName = netdev
        nl = try Netlink()
    }

    /// The kernel keeps sysfs current by itself.
    public func refresh(vf: Int?) throws {}

    func pfIndex() throws -> Int32 {
        guard let l = try nl.link(named: pfName) else { throw PFDriverError.unavailable("PF netdev \(pfName) vanished") }
        return l.ifindex
    }

    public func config(vf: Int) throws -> VFConfig {
        guard let c = try nl.vfConfig(pf: try pfIndex(), vf: vf) else {
            throw PFDriverError.refused("PF \(pfName) (driver \(driverName)) reports no VF \(vf)")
        }
        return c
    }

    public func apply(vf: Int, _ change: VFChange) throws {
        let index = try pfIndex()
        for s in change.settings {
            do {
                try nl.setVF(pf: index, vf: vf, s, what: "driver \(driverName) refused \(s) on VF \(vf) of \(pfName)")
            } catch {
                throw PFDriverError.refused(error.description)
            }
        }
    }
}

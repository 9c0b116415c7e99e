import Netlink
import Sysfs
import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

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

    /// A VF netdev names its PCI function in ethtool's bus_info, in any namespace.
    public func netdevTest(vf: PCIFunction, index: Int) throws -> (LinkInfo) -> Bool {
        let address = vf.address.description
        return { Self.busInfo(of: $0.name) == address }
    }

    /// udev names a VF netdev, and a VF driver takes its MAC from the PF, which hands out the
    /// admin MAC once one is set: neither is the driver's to know.
    public func pristineNetdev(vf: Int) -> PristineNetdev { PristineNetdev(name: nil, mac: nil) }

    /// ETHTOOL_GDRVINFO's bus_info of netdev `name` in the calling thread's namespace. sysfs
    /// cannot say it there: /sys shows the namespace it was mounted in.
    static func busInfo(of name: String) -> String? {
        let bytes = Array(name.utf8)
        var req = ifreq()
        guard bytes.count < MemoryLayout.size(ofValue: req.ifr_ifrn.ifrn_name) else { return nil }
        withUnsafeMutableBytes(of: &req.ifr_ifrn.ifrn_name) { $0.copyBytes(from: bytes) }
        let s = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { return nil }
        defer { close(s) }
        // struct ethtool_drvinfo: cmd, then driver, version, fw_version and bus_info of 32
        // bytes each, and 64 more.
        var info = [UInt8](repeating: 0, count: 196)
        let rc = info.withUnsafeMutableBytes { p -> Int32 in
            p.storeBytes(of: UInt32(0x0000_0003), as: UInt32.self)  // ETHTOOL_GDRVINFO
            req.ifr_ifru.ifru_data = p.baseAddress!.assumingMemoryBound(to: CChar.self)
            return withUnsafeMutablePointer(to: &req) { ioctl(s, 0x8946, $0) }  // SIOCETHTOOL
        }
        guard rc == 0 else { return nil }
        return String(decoding: info[100..<132].prefix { $0 != 0 }, as: UTF8.self)
    }
}

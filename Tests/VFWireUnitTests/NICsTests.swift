import XCTest
import Netlink
import PFDriver
import Sysfs
import VFWireTypes

/// The NICs the plugin sees are the ones it is handed: here, fake sysfs trees in a temp dir.
final class NICsTests: XCTestCase {
    let pfAddress = PCIAddress("0000:3b:00.0")!

    /// A tree with one PF whose netdev is `netdev`, bound to no driver.
    func tree(_ dir: String, netdev: String) throws -> SysfsRoot {
        let fm = FileManager.default
        let root = SysfsRoot(dir)
        let fn = root.function(pfAddress)
        try fm.createDirectory(atPath: fn.dir + "/net/" + netdev, withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/class/net", withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: fn.dir + "/net/" + netdev + "/device", withDestinationPath: "../../../" + pfAddress.description)
        try fm.createSymbolicLink(atPath: dir + "/class/net/" + netdev, withDestinationPath: fn.dir + "/net/" + netdev)
        return root
    }

    func testLookupsSearchTheInjectedTreesInOrder() throws {
        let dir = try scratchDirectory(self)
        let first = try tree(dir + "/first", netdev: "ens1")
        let second = try tree(dir + "/second", netdev: "ens1")
        let nics = NICs([KernelNICs(sysfs: first), KernelNICs(sysfs: second)])
        XCTAssertEqual(nics.pf(netdev: InterfaceName("ens1")!)?.root, first, "the first tree wins")
        XCTAssertEqual(NICs([KernelNICs(sysfs: second), KernelNICs(sysfs: first)]).pf(netdev: InterfaceName("ens1")!)?.root, second)
        XCTAssertNil(nics.pf(netdev: InterfaceName("ens2")!))
        XCTAssertEqual(nics.function(pfAddress)?.root, first)
        XCTAssertNil(nics.function(PCIAddress("0000:3b:00.1")!))
        XCTAssertNil(NICs([]).pf(netdev: InterfaceName("ens1")!), "no NICs, no PFs")
    }

    func testADriverIsOpenedByTheTreeThePFIsIn() throws {
        let dir = try scratchDirectory(self)
        let nics = NICs([KernelNICs(sysfs: try tree(dir + "/sys", netdev: "ens1"))])
        let pf = try XCTUnwrap(nics.pf(netdev: InterfaceName("ens1")!))
        XCTAssertThrowsError(try nics.open(pf)) { e in
            guard case PFDriverError.unavailable(let m) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(m.contains("no driver bound"), m)
        }
        XCTAssertThrowsError(try nics.open(SysfsRoot(dir + "/elsewhere").function(pfAddress))) { e in
            guard case PFDriverError.notAPF = e else { return XCTFail("\(e)") }
        }
    }

    /// A real VF netdev is told apart by the PCI function ethtool names, which also holds
    /// where sysfs cannot look: the host's PCI netdevs (virtio's too, under its PCI parent)
    /// are known by theirs and no other.
    func testNetlinkDriverKnowsANetdevByItsPCIFunction() throws {
        let nl = try Netlink()
        var checked = 0
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/sys/class/net")) ?? [] {
            let device = URL(fileURLWithPath: "/sys/class/net/\(name)/device").resolvingSymlinksInPath().path
            guard let pci = device.split(separator: "/").reversed().lazy.compactMap({ PCIAddress(String($0)) }).first,
                  let link = try nl.link(named: name) else { continue }
            let driver = try NetlinkPFDriver(netdev: name, driver: "test")
            XCTAssertTrue(try driver.netdevTest(vf: SysfsRoot.kernel.function(pci), index: 0)(link), name)
            let other = PCIAddress(domain: pci.domain, bus: pci.bus, device: pci.device, function: pci.function ^ 1)
            XCTAssertFalse(try driver.netdevTest(vf: SysfsRoot.kernel.function(other), index: 0)(link), name)
            checked += 1
        }
        XCTAssertGreaterThan(checked, 0, "a PCI netdev of this host to check ethtool's bus_info against")
    }
}

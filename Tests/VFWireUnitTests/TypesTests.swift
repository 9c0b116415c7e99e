import XCTest
import VFWireTypes
import VFState

final class TypesTests: XCTestCase {
    func testPCIAddress() {
        XCTAssertEqual(PCIAddress("0000:3b:02.1")?.description, "0000:3b:02.1")
        XCTAssertEqual(PCIAddress("3b:02.1")?.description, "0000:3b:02.1", "lspci's domain-less form")
        XCTAssertEqual(PCIAddress("0000:3B:1f.7")?.device, 0x1f)
        for bad in ["", "0000:3b:02", "0000:3b:20.0", "0000:3b:02.8", "../../etc", "0000:3b:02.1/x",
                    "0000:3b:2.1", "zzzz:3b:02.1", "0000::02.1", "0000:3b:02.1 "] {
            XCTAssertNil(PCIAddress(bad), bad)
        }
        XCTAssertLessThan(PCIAddress("0000:3b:02.1")!, PCIAddress("0000:3b:02.2")!)
        XCTAssertEqual(PCIAddress("0000:00:01.2")!.devfn, 10)
    }

    func testMACAddress() {
        XCTAssertEqual(MACAddress("02:AB:00:00:00:01")?.description, "02:ab:00:00:00:01")
        XCTAssertNil(MACAddress("02:ab:00:00:00"))
        XCTAssertNil(MACAddress("02:ab:00:00:00:0g"))
        XCTAssertNil(MACAddress("2:ab:00:00:00:01"))
        XCTAssertTrue(MACAddress("01:00:5e:00:00:01")!.isMulticast)
        XCTAssertFalse(MACAddress.zero.isUsableUnicast)
    }

    func testInterfaceName() {
        XCTAssertNotNil(InterfaceName("eth0"))
        XCTAssertNotNil(InterfaceName("abcdefghijklmno"))
        for bad in ["", ".", "..", "a/b", "a:b", "a b", "abcdefghijklmnop", "a\tb"] { XCTAssertNil(InterfaceName(bad), bad) }
    }

    func testCNIIdentifier() {
        XCTAssertNotNil(CNIIdentifier("default-abc_1.2"))
        for bad in ["", "-x", ".x", "a/b", "a b", "../x"] { XCTAssertNil(CNIIdentifier(bad), bad) }
    }

    func testVLANAndProto() {
        XCTAssertNil(VLAN(4095))
        XCTAssertNil(VLAN(-1))
        XCTAssertEqual(VLANProto(config: "802.1q"), .dot1Q)
        XCTAssertEqual(VLANProto(config: "802.1AD"), .dot1ad)
        XCTAssertEqual(VLANProto.dot1ad.ethertype, 0x88a8)
        XCTAssertEqual(VFLinkState(kernelValue: 2), .disable)
    }

    func testChangeUndoTouchesOnlyWhatChanged() {
        let original = VFConfig(mac: MACAddress("02:00:00:00:00:09")!, vlan: VLAN(7)!, qos: 1, spoofchk: true,
                                trust: false, minTxRate: 5, maxTxRate: 50, linkState: .auto)
        let change = VFChange(vlan: VFVLANSetting(vlan: VLAN(100)!), trust: true)
        let undo = change.undo(from: original)
        XCTAssertNil(undo.mac)
        XCTAssertNil(undo.spoofchk)
        XCTAssertNil(undo.rate)
        XCTAssertEqual(undo.vlan, VFVLANSetting(vlan: VLAN(7)!, qos: 1))
        XCTAssertEqual(undo.trust, false)
        XCTAssertTrue(VFChange().isEmpty)
    }

    func testChangeFieldsSplitAndMergeBack() {
        let c = VFChange(mac: MACAddress("02:00:00:00:00:01")!, vlan: VFVLANSetting(vlan: VLAN(5)!), spoofchk: false,
                         trust: true, rate: VFRate(min: 0, max: 10), linkState: .disable)
        XCTAssertEqual(c.settings.count, 6)
        XCTAssertTrue(c.settings.allSatisfy { $0.change.settings.count == 1 })
        XCTAssertEqual(c.settings.reduce(VFChange()) { $0.merging($1.change) }, c)
        XCTAssertEqual(VFChange(trust: true).merging(VFChange(trust: false)).trust, false, "the later field wins")
    }

    func testChangeSatisfaction() {
        var c = VFConfig()
        let change = VFChange(mac: MACAddress("02:00:00:00:00:01")!, vlan: VFVLANSetting(vlan: VLAN(5)!))
        XCTAssertEqual(change.isSatisfied(by: c).count, 2)
        c.mac = MACAddress("02:00:00:00:00:01")!
        c.vlan = VLAN(5)!
        XCTAssertEqual(change.isSatisfied(by: c), [])
    }

    func testAttachmentRecordRoundTrip() throws {
        let r = AllocationRecord(key: AttachmentKey(network: "n", containerID: "c", ifname: "eth0"),
                                 vf: PCIAddress("0000:01:00.1")!, pf: PCIAddress("0000:01:00.0")!, vfIndex: 0,
                                 sysfsRoot: "/sys", netns: "/run/netns/x", netnsID: nil, mode: .kernel, original: VFConfig(),
                                 netdev: NetdevState(name: "ens1v0", mac: .zero, mtu: 1500, up: false),
                                 originalDriver: "igbvf", applied: VFChange(trust: true))
        let back = try JSONDecoder().decode(AllocationRecord.self, from: JSONEncoder().encode(r))
        XCTAssertEqual(back, r)
        XCTAssertFalse(r.netnsAlive, "no identity, no live namespace")
    }
}

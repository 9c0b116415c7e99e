import XCTest
import CNIProtocol
import FileSystem
import IPAM
import JSON
import Namespaces
import Netlink
import Netconf
import PFDriver
import VFState
import VFWirePlugin
import VFWireTypes

final class ProtocolTests: XCTestCase {
    func conf(_ extra: String = "") -> [UInt8] {
        Array("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"vfwire\",\"pf\":\"ens1\"\(extra)}".utf8)
    }

    func parse(_ extra: String, args: String = "") throws -> NetConf {
        try NetConf(try NetconfObject(conf(extra)), args: try CNIArgs(args))
    }

    func netconf(_ text: String) throws -> NetConf {
        try NetConf(try NetconfObject(Array(text.utf8)), args: try CNIArgs(""))
    }

    /// The CNI error a runtime would see for `error`.
    func cni(_ error: any Error) -> CNIError {
        (error as? CNIError) ?? VFWire(nics: NICs([])).cniError(for: error)
    }

    func testNetconfKeys() throws {
        let c = try parse(",\"vlan\":100,\"vlanQoS\":5,\"vlanProto\":\"802.1ad\",\"mac\":\"02:00:00:00:00:01\",\"spoofchk\":\"off\",\"trust\":\"on\",\"link_state\":\"disable\",\"min_tx_rate\":10,\"max_tx_rate\":100,\"mtu\":9000,\"ipam\":{\"type\":\"host-local\"},\"logLevel\":\"debug\",\"logFile\":\"/var/log/vfwire.log\"")
        XCTAssertEqual(c.vf.vlan, VFVLANSetting(vlan: VLAN(100)!, qos: 5, proto: .dot1ad))
        XCTAssertEqual(c.vf.mac, MACAddress("02:00:00:00:00:01"))
        XCTAssertEqual(c.vf.spoofchk, false)
        XCTAssertEqual(c.vf.trust, true)
        XCTAssertEqual(c.vf.linkState, .disable)
        XCTAssertEqual(c.vf.minTxRate, 10)
        XCTAssertEqual(c.vf.maxTxRate, 100)
        XCTAssertEqual(c.mtu, 9000)
        XCTAssertEqual(c.ipamType, "host-local")
        XCTAssertEqual(c.logLevel, .debug)
        XCTAssertEqual(c.pfs.map(\.value), ["ens1"])
    }

    func testUnsetKeysStayUnset() throws {
        let c = try parse("")
        XCTAssertNil(c.vf.vlan)
        XCTAssertNil(c.vf.spoofchk)
        XCTAssertNil(c.vf.trust)
        XCTAssertNil(c.vf.minTxRate)
        XCTAssertNil(c.vf.linkState)
        XCTAssertNil(c.vf.mac)
    }

    func testVFRequestFromWords() throws {
        let r = try VFRequest(words: ["vlan=100", "vlanQoS=1", "link_state=disable", "min_tx_rate=10", "mac=02:00:00:00:00:07"])
        XCTAssertEqual(r.vlan, VFVLANSetting(vlan: VLAN(100)!, qos: 1))
        XCTAssertEqual(r.linkState, .disable)
        XCTAssertEqual(r.change(from: VFConfig(maxTxRate: 500)).rate, VFRate(min: 10, max: 500), "max_tx_rate kept as it was")
        XCTAssertThrowsError(try VFRequest(words: ["vlan=5000"]))
        XCTAssertThrowsError(try VFRequest(words: ["color=blue"]))
        XCTAssertThrowsError(try VFRequest(words: ["vlan"]))
    }

    func testPFList() throws {
        let c = try netconf("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"pf\":[\"a\",\"b\"]}")
        XCTAssertEqual(c.pfs.map(\.value), ["a", "b"])
        XCTAssertThrowsError(try netconf("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"pf\":[\"a\",\"a\"]}"))
    }

    func testMACPrecedence() throws {
        let withRuntime = ",\"mac\":\"02:00:00:00:00:01\",\"runtimeConfig\":{\"mac\":\"02:00:00:00:00:03\"}"
        XCTAssertEqual(try parse(withRuntime, args: "MAC=02:00:00:00:00:02").vf.mac?.description, "02:00:00:00:00:03")
        XCTAssertEqual(try parse(",\"mac\":\"02:00:00:00:00:01\"", args: "MAC=02:00:00:00:00:02").vf.mac?.description, "02:00:00:00:00:02")
        XCTAssertEqual(try parse(",\"mac\":\"02:00:00:00:00:01\"").vf.mac?.description, "02:00:00:00:00:01")
    }

    func testRuntimeVLANOverridesTheNetworks() throws {
        let c = try parse(",\"vlan\":100,\"vlanQoS\":3,\"runtimeConfig\":{\"vlan\":200}")
        XCTAssertEqual(c.vf.vlan, VFVLANSetting(vlan: VLAN(200)!, qos: 3))
        XCTAssertEqual(try parse(",\"runtimeConfig\":{\"vlan\":7}").vf.vlan?.vlan, VLAN(7))
        XCTAssertThrowsError(try parse(",\"runtimeConfig\":{\"vlan\":4095}"))
    }

    func testDeviceIDPrecedence() throws {
        let c = try parse(",\"deviceID\":\"0000:01:00.1\",\"runtimeConfig\":{\"deviceID\":\"0000:01:00.2\"}")
        XCTAssertEqual(c.deviceID?.description, "0000:01:00.2")
    }

    func testInvalidValuesAreCode7AndNameTheKey() {
        for (extra, key) in [(",\"vlan\":4095", "vlan"), (",\"vlanQoS\":1", "vlanQoS"), (",\"mtu\":67", "mtu"),
                             (",\"spoofchk\":\"true\"", "spoofchk"), (",\"deviceID\":\"x\"", "deviceID"),
                             (",\"logFile\":\"rel/path\"", "logFile"), (",\"logLevel\":\"loud\"", "logLevel"),
                             (",\"ipam\":{\"type\":\"a/b\"}", "ipam.type"), (",\"ipam\":{\"subnet\":\"x\"}", "ipam.type"),
                             (",\"runtimeConfig\":{\"mac\":\"x\"}", "runtimeConfig.mac")] {
            do {
                _ = try parse(extra)
                XCTFail("\(extra) accepted")
            } catch {
                XCTAssertEqual(cni(error).code, 7, extra)
                XCTAssertTrue(cni(error).msg.contains(key), "\(cni(error).msg) names \(key)")
            }
        }
    }

    func testEmptyIPAMMeansNoIPAM() throws {
        XCTAssertNil(try parse(",\"ipam\":{}").ipamType)
        XCTAssertEqual(try parse(",\"ipam\":{\"type\":\"static\"}").ipamType, "static")
    }

    func testDecodeErrors() {
        for bad in ["", "nope", "[]", "1"] {
            XCTAssertThrowsError(try NetconfObject(Array(bad.utf8))) { e in
                XCTAssertEqual((e as? CNIError)?.code, 6, bad)
            }
        }
    }

    func testDelegateInputLowersVersionAndKeepsEverythingElse() throws {
        let c = try parse(",\"ipam\":{\"type\":\"static\",\"addresses\":[{\"address\":\"198.18.0.1/24\"}]},\"prevResult\":{\"cniVersion\":\"1.1.0\",\"ips\":[]}")
        let out = try JSONDecoder().decode(JSONValue.self, from: Data(c.delegateInput(version: .v1_0_0)))
        XCTAssertEqual(out["cniVersion"], .string("1.0.0"))
        XCTAssertEqual(out["prevResult"]?["cniVersion"], .string("1.0.0"))
        XCTAssertEqual(out["ipam"]?["addresses"], .array([.object(["address": .string("198.18.0.1/24")])]))
    }

    func testVersionGating() {
        XCTAssertThrowsError(try CNIVersion.v0_3_1.allows(.check))
        XCTAssertNoThrow(try CNIVersion.v0_4_0.allows(.check))
        XCTAssertThrowsError(try CNIVersion.v1_0_0.allows(.gc))
        XCTAssertNoThrow(try CNIVersion.v1_1_0.allows(.status))
        XCTAssertThrowsError(try CNIVersion.parse("0.2.0")) { e in XCTAssertEqual((e as? CNIError)?.code, 1) }
    }

    /// The codes runtimes and scripts match on, decided at the plugin's edge.
    func testErrorCodes() {
        let codes: [(any Error, Int)] = [
            (CNIError.incompatibleVersion(""), 1), (NamespaceError.cannotOpen(""), 4), (FSError.failed(""), 5),
            (NetconfError.decode(""), 6), (NetconfError.invalidConfig(""), 7), (StateError.held(""), 11),
            (PluginError.unavailable(""), 50), (PluginError.noFreeVF(""), 101), (PluginError.deviceBusy(""), 102),
            (PFDriverError.unavailable(""), 102), (NetlinkError.failed(""), 103), (PFDriverError.refused(""), 104),
            (PluginError.checkFailed(""), 105), (DelegateError.notFound(""), 4),
            (DelegateError.failed(CNIError(code: 42, msg: "m", details: "d")), 42),
        ]
        for (e, c) in codes { XCTAssertEqual(cni(e).code, c, "\(e)") }
        XCTAssertEqual(cni(DelegateError.failed(CNIError(code: 42, msg: "m", details: "d"))).details, "d")
        XCTAssertEqual(cni(PluginError.noFreeVF("none left")).msg, "none left")
    }

    func testEnvironment() throws {
        let ok = ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "abc", "CNI_NETNS": "/run/netns/x", "CNI_IFNAME": "eth0",
                  "CNI_PATH": "/a:/b", "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAME=p;FOO=bar"]
        let e = try CNIEnvironment(ok)
        XCTAssertEqual(e.path, ["/a", "/b"])
        XCTAssertEqual(e.args.pairs["FOO"], "bar")
        var del = ok
        del["CNI_COMMAND"] = "DEL"
        del["CNI_NETNS"] = ""
        XCTAssertNil(try CNIEnvironment(del).netns, "DEL may come without a namespace")
        var add = ok
        add["CNI_NETNS"] = nil
        XCTAssertThrowsError(try CNIEnvironment(add))
        XCTAssertNoThrow(try CNIEnvironment(["CNI_COMMAND": "STATUS"]), "STATUS needs no attachment")
        XCTAssertThrowsError(try CNIArgs("MAC"))
        XCTAssertThrowsError(try CNIArgs("K8S_POD_NAME=a;Other=1"))
        XCTAssertEqual(try CNIArgs("MAC=02:00:00:00:00:05").mac?.description, "02:00:00:00:00:05")
    }

    func testResultEncodingPerVersion() throws {
        let r = CNIResult(interfaces: [.init(name: "eth0", mac: "02:00:00:00:00:01", mtu: 1500, sandbox: "/x", pciID: "0000:01:00.1")],
                          ips: [.init(address: "198.18.0.1/24", gateway: "198.18.0.254", interface: 0), .init(address: "2001:db8::1/64", interface: 0)],
                          routes: [.init(dst: "0.0.0.0/0")])
        func obj(_ v: CNIVersion) throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(try r.encoded(for: v))) as! [String: Any]
        }
        let v11 = try obj(.v1_1_0)
        XCTAssertEqual(v11["cniVersion"] as? String, "1.1.0")
        XCTAssertEqual((v11["interfaces"] as? [[String: Any]])?.first?["pciID"] as? String, "0000:01:00.1")
        XCTAssertNil((v11["ips"] as? [[String: Any]])?.first?["version"])
        let v10 = try obj(.v1_0_0)
        XCTAssertNil((v10["interfaces"] as? [[String: Any]])?.first?["pciID"], "pciID came with 1.1.0")
        let v04 = try obj(.v0_4_0)
        XCTAssertEqual((v04["ips"] as? [[String: Any]])?.map { $0["version"] as? String }, ["4", "6"])
        XCTAssertNotNil(v04["dns"], "0.x results always carry dns")
        let back = try JSONDecoder().decode(CNIResult.self, from: Data(try r.encoded(for: .v0_3_1)))
        XCTAssertEqual(back.ips?.count, 2, "0.x results decode back")
    }

    struct Fake: CNIPlugin {
        var fail: (any Error)?
        func add(_ env: CNIEnvironment, _ config: NetConf) throws -> CNIResult {
            if let fail { throw fail }
            return CNIResult(ips: [])
        }
        func del(_ env: CNIEnvironment, _ config: NetConf) throws {}
        func check(_ env: CNIEnvironment, _ config: NetConf) throws {}
        func status(_ env: CNIEnvironment, _ config: NetConf) throws {}
        func gc(_ env: CNIEnvironment, _ config: NetConf) throws {}
    }

    func testSkeletonWritesErrorJSONAndExitsOne() throws {
        var out: [UInt8] = []
        let env = ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "a", "CNI_NETNS": "/x", "CNI_IFNAME": "eth0"]
        let conf = Array("{\"cniVersion\":\"0.4.0\",\"name\":\"n\"}".utf8)
        let rc = CNISkel.run(Fake(fail: CNIError(code: 101, msg: "none left")), environment: env, stdin: conf) { out += $0 }
        XCTAssertEqual(rc, 1)
        let e = try JSONDecoder().decode(CNIError.self, from: Data(out))
        XCTAssertEqual(e.code, 101, "a CNIError passes through")
        XCTAssertEqual(e.cniVersion, "0.4.0", "errors speak the config's version")
        out = []
        XCTAssertEqual(CNISkel.run(Fake(fail: FSError.failed("disk")), environment: env, stdin: conf) { out += $0 }, 1)
        XCTAssertEqual(try JSONDecoder().decode(CNIError.self, from: Data(out)).code, 999, "anything else is wrapped")
        out = []
        XCTAssertEqual(CNISkel.run(Fake(), environment: env, stdin: conf) { out += $0 }, 0)
        XCTAssertTrue(String(decoding: out, as: UTF8.self).contains("\"cniVersion\":\"0.4.0\""))
        out = []
        XCTAssertEqual(CNISkel.run(Fake(), environment: ["CNI_COMMAND": "VERSION"], stdin: []) { out += $0 }, 0)
        XCTAssertTrue(String(decoding: out, as: UTF8.self).contains("\"cniVersion\":\"1.1.0\""))
    }
}

import XCTest
import CNIProtocol
import Netconf
import VFWireTypes

final class ProtocolTests: XCTestCase {
    func conf(_ extra: String = "") -> [UInt8] {
        Array("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"vfwire\",\"pf\":\"ens1\"\(extra)}".utf8)
    }

    func parse(_ extra: String, args: String = "") throws(VFWireError) -> NetConf {
        try NetConf(conf(extra), args: try CNIArgs(args))
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
        let c = try NetConf(Array("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"pf\":[\"a\",\"b\"]}".utf8))
        XCTAssertEqual(c.pfs.map(\.value), ["a", "b"])
        XCTAssertThrowsError(try NetConf(Array("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"pf\":[\"a\",\"a\"]}".utf8)))
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
                             (",\"ipam\":{\"type\":\"a/b\"}", "ipam.type"), (",\"ipam\":{}", ""),
                             (",\"runtimeConfig\":{\"mac\":\"x\"}", "runtimeConfig.mac")] {
            do throws(VFWireError) {
                _ = try parse(extra)
                if !key.isEmpty { XCTFail("\(extra) accepted") }
            } catch {
                XCTAssertEqual(CNIError(error).code, 7, extra)
                XCTAssertTrue(CNIError(error).msg.contains(key), "\(CNIError(error).msg) names \(key)")
            }
        }
    }

    func testDecodeErrors() {
        for bad in ["", "nope", "[]", "1"] {
            XCTAssertThrowsError(try NetConf(Array(bad.utf8))) { e in
                XCTAssertEqual(CNIError(e as! VFWireError).code, 6, bad)
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
        XCTAssertThrowsError(try CNIVersion.parse("0.2.0")) { e in XCTAssertEqual(CNIError(e as! VFWireError).code, 1) }
    }

    func testErrorCodes() {
        let codes: [(VFWireError, Int)] = [
            (.incompatibleVersion(""), 1), (.invalidEnvironment(""), 4), (.io(""), 5), (.decode(""), 6),
            (.invalidConfig(""), 7), (.tryAgain(""), 11), (.unavailable(""), 50), (.noFreeVF(""), 101),
            (.deviceBusy(""), 102), (.netlink(""), 103), (.pfDriver(""), 104), (.checkFailed(""), 105),
            (.delegate(code: 42, msg: "m", details: "d"), 42),
        ]
        for (e, c) in codes { XCTAssertEqual(CNIError(e).code, c, "\(e)") }
        XCTAssertEqual(CNIError(.delegate(code: 42, msg: "m", details: "d")).details, "d")
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
        var fail: VFWireError?
        func add(_ env: CNIEnvironment, _ config: [UInt8]) throws(VFWireError) -> CNIResult {
            if let fail { throw fail }
            return CNIResult(ips: [])
        }
        func del(_ env: CNIEnvironment, _ config: [UInt8]) throws(VFWireError) {}
        func check(_ env: CNIEnvironment, _ config: [UInt8]) throws(VFWireError) {}
        func status(_ env: CNIEnvironment, _ config: [UInt8]) throws(VFWireError) {}
        func gc(_ env: CNIEnvironment, _ config: [UInt8]) throws(VFWireError) {}
        func configVersion(_ config: [UInt8]) throws(VFWireError) -> CNIVersion { try NetConf.version(of: config) }
    }

    func testSkeletonWritesErrorJSONAndExitsOne() throws {
        var out: [UInt8] = []
        let env = ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "a", "CNI_NETNS": "/x", "CNI_IFNAME": "eth0"]
        let rc = CNISkel.run(Fake(fail: .noFreeVF("none left")), environment: env, stdin: Array("{\"cniVersion\":\"0.4.0\"}".utf8)) { out += $0 }
        XCTAssertEqual(rc, 1)
        let e = try JSONDecoder().decode(CNIError.self, from: Data(out))
        XCTAssertEqual(e.code, 101)
        XCTAssertEqual(e.cniVersion, "0.4.0", "errors speak the config's version")
        out = []
        XCTAssertEqual(CNISkel.run(Fake(), environment: env, stdin: Array("{\"cniVersion\":\"0.4.0\"}".utf8)) { out += $0 }, 0)
        XCTAssertTrue(String(decoding: out, as: UTF8.self).contains("\"cniVersion\":\"0.4.0\""))
        out = []
        XCTAssertEqual(CNISkel.run(Fake(), environment: ["CNI_COMMAND": "VERSION"], stdin: []) { out += $0 }, 0)
        XCTAssertTrue(String(decoding: out, as: UTF8.self).contains("\"cniVersion\":\"1.1.0\""))
    }
}

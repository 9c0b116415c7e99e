import XCTest
import CNIProtocol
import FoundationEssentials
import JSON
import Netconf
import PFDriver
import VFWirePlugin
import OCIHook
import VFWireTypes

/// Input that used to be misread silently: unknown and duplicate keys, hostile JSON, name patterns.
final class TrustUnitTests: XCTestCase {
    func code(_ text: String, args: String = "") -> (Int, String)? {
        do {
            _ = try NetConf(try NetconfObject(Array(text.utf8)), args: try CNIArgs(args))
            return nil
        } catch {
            let e = (error as? CNIError) ?? VFWire(nics: NICs([])).cniError(for: error)
            return (e.code, e.msg)
        }
    }

    func conf(_ extra: String) -> String { "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"vfwire\",\"pf\":\"ens1\"\(extra)}" }

    func testUnknownKeyNamesTheNearestKnownOne() {
        XCTAssertNil(code(conf(",\"vlan\":100")))
        let e = code(conf(",\"vlna\":100"))
        XCTAssertEqual(e?.0, 7)
        XCTAssertEqual(e?.1, "unknown key 'vlna'; did you mean 'vlan'?")
        XCTAssertEqual(code(conf(",\"spofchk\":\"on\""))?.1, "unknown key 'spofchk'; did you mean 'spoofchk'?")
        let far = code(conf(",\"colour\":\"blue\""))
        XCTAssertEqual(far?.0, 7)
        XCTAssertTrue(far?.1.hasPrefix("unknown key 'colour': vfwire takes") ?? false, far?.1 ?? "")
    }

    func testKeysTheSpecRuntimesAndMultusAddAreAccepted() {
        let extra = ",\"dns\":{\"nameservers\":[\"198.18.0.1\"]},\"args\":{\"cni\":{\"ips\":[]}},\"capabilities\":{\"mac\":true},"
            + "\"runtimeConfig\":{\"anything\":1},\"cni.dev/valid-attachments\":[],\"cni.dev/other\":1,"
            + "\"deviceID\":\"0000:3b:02.1\",\"pciBusID\":\"0000:3b:02.1\",\"ipam\":{}"
        XCTAssertNil(code(conf(extra)))
    }

    func testDuplicateKeysAreRefusedAtAnyDepth() {
        XCTAssertEqual(code(conf(",\"vlan\":10,\"mtu\":1500,\"vlan\":12"))?.0, 7)
        XCTAssertTrue(code(conf(",\"vlan\":10,\"vlan\":12"))?.1.contains("'vlan' appears twice") ?? false)
        XCTAssertEqual(code(conf(",\"ipam\":{\"type\":\"static\",\"type\":\"host-local\"}"))?.0, 7)
        XCTAssertNil(code(conf(",\"ipam\":{\"type\":\"static\"},\"runtimeConfig\":{\"type\":1}")))
    }

    func time(_ body: () -> Void) -> Double {
        let t0 = ContinuousClock.now
        body()
        let d = ContinuousClock.now - t0
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    func testDeepAndHugeInputIsRefusedFast() {
        // 8 KB of nesting: Foundation's decoder took 7.9 s on this.
        let deep = conf(",\"x\":" + String(repeating: "[", count: 4096) + String(repeating: "]", count: 4096))
        var deepCode: Int?
        let deepTime = time { deepCode = code(deep)?.0 }
        XCTAssertEqual(deepCode, 6)
        // A valid netconf of 5.9 MB: Foundation took 5 s.
        let big = conf(",\"runtimeConfig\":{\"pad\":\"" + String(repeating: "a", count: 5_900_000) + "\"}")
        var bigCode: Int?
        let bigTime = time { bigCode = code(big)?.0 }
        XCTAssertEqual(bigCode, 6)
        print("refused \(deep.utf8.count)-byte nested netconf in \(Int(deepTime * 1e6)) µs, \(big.utf8.count)-byte netconf in \(Int(bigTime * 1e6)) µs")
        XCTAssertLessThan(deepTime, 0.1)
        XCTAssertLessThan(bigTime, 0.1)
        // The limits leave room: 64 levels and 1 MiB parse.
        let ok = conf(",\"runtimeConfig\":{\"x\":" + String(repeating: "[", count: 62) + String(repeating: "]", count: 62)
                      + ",\"pad\":\"" + String(repeating: "a", count: 1_000_000) + "\"}")
        XCTAssertNil(code(ok))
    }

    /// The parser reads what Foundation's does, for everything both accept.
    func testParserAgreesWithFoundation() throws {
        let samples = [
            #"{"a":[1,-2.5e3,0.125,true,false,null],"b":{"c":"d\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"},"e":""}"#,
            #"  [ ]  "#, #"{}"#, #"-0"#, #""x""#, #"[1E2,1e-2,12345678901234]"#,
        ]
        for s in samples {
            let ours = try JSONParser().parse(Array(s.utf8))
            let theirs = try JSONDecoder().decode(JSONValue.self, from: Data(s.utf8))
            XCTAssertEqual(ours, theirs, s)
        }
        for bad in ["", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "\"\\ud800\"", "\"\u{1}\"", "tru", "[1]x", "{\"a\" 1}", "1e400", "\"\\x\""] {
            XCTAssertThrowsError(try JSONParser().parse(Array(bad.utf8)), bad)
        }
        XCTAssertThrowsError(try JSONParser().parse([0x22, 0xff, 0x22]), "invalid UTF-8")
    }

    func testPercentInInterfaceNamesIsRefused() {
        XCTAssertNotNil(InterfaceName("net1"))
        XCTAssertNil(InterfaceName("net%d"))
        let env = ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c", "CNI_NETNS": "/proc/self/ns/net", "CNI_PATH": "/x"]
        XCTAssertNoThrow(try CNIEnvironment(env.merging(["CNI_IFNAME": "eth1"]) { $1 }))
        XCTAssertThrowsError(try CNIEnvironment(env.merging(["CNI_IFNAME": "eth%d"]) { $1 })) {
            XCTAssertEqual(($0 as? CNIError)?.code, 4)
        }
        XCTAssertEqual(code(conf("").replacingOccurrences(of: "\"ens1\"", with: "\"ens%d\""))?.0, 7)
    }
}

final class HookSeparatorTests: XCTestCase {
    /// podman splits `--annotation` values on commas; white space reaches the hook intact.
    func testNetworksSeparatedBySpaceOrComma() throws {
        let spaced = try NetworkRequest.parse("a:eth1;vlan=7 b:eth2")
        XCTAssertEqual(spaced.map(\.network.value), ["a", "b"])
        XCTAssertEqual(spaced.map(\.ifname.value), ["eth1", "eth2"])
        XCTAssertEqual(spaced.first?.vlan, VLAN(7))
        XCTAssertEqual(try NetworkRequest.parse("a:eth1,b:eth2"), spaced.map { var r = $0; r.vlan = nil; return r })
        XCTAssertEqual(try NetworkRequest.parse(" a , b ").map(\.ifname.value), ["net1", "net2"])
    }
}

final class OCIStateBoundsTests: XCTestCase {
    func testOCIStateIsReadByTheBoundedParser() throws {
        let ok = #"{"ociVersion":"1.0.2","id":"c1","bundle":"/b","annotations":{"a":"b"}}"#
        XCTAssertEqual(try OCIState.parse(Array(ok.utf8)).id, "c1")
        let twice = #"{"id":"c1","bundle":"/b","id":"c2"}"#
        XCTAssertThrowsError(try OCIState.parse(Array(twice.utf8)))
        let deep = #"{"id":"c1","bundle":"/b","x":"# + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "}"
        let t0 = ContinuousClock.now
        XCTAssertThrowsError(try OCIState.parse(Array(deep.utf8)))
        XCTAssertLessThan(ContinuousClock.now - t0, .milliseconds(100))
    }
}

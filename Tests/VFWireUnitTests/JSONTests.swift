import XCTest
import CNIProtocol
import JSON
import VFWireTypes

/// The plugin's JSON replaces Foundation's; these hold it to what runtimes and tests saw from
/// JSONEncoder(.sortedKeys, .withoutEscapingSlashes) and JSONDecoder.
final class JSONTests: XCTestCase {
    let full = CNIResult(
        cniVersion: "1.1.0",
        interfaces: [.init(name: "net1", mac: "02:00:00:00:00:01", mtu: 9000, sandbox: "/var/run/netns/a b", pciID: "0000:03:00.1",
                           vfioDevice: "/dev/vfio/42")],
        ips: [.init(address: "198.18.0.1/24", gateway: "198.18.0.254", interface: 0), .init(address: "2001:db8::1/64")],
        routes: [.init(dst: "0.0.0.0/0", gw: "198.18.0.254")],
        dns: try! JSONDecoder().decode(CNIResult.DNS.self, from: Data(#"{"nameservers":["198.18.0.53"],"domain":"lab \"x\"\\","search":["a","ü"]}"#.utf8)))

    func testEncodesAsFoundationDidByteForByte() throws {
        let foundation = JSONEncoder()
        foundation.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for version in CNIVersion.allCases {
            var r = full
            r.cniVersion = version.rawValue
            XCTAssertEqual(String(decoding: try JSON.encode(r), as: UTF8.self),
                           String(decoding: try foundation.encode(r), as: UTF8.self), "\(version)")
        }
        let e = CNIError(code: 7, msg: "bad \u{1} <key>", details: "tab\there")
        XCTAssertEqual(try JSON.encode(e), Array(try foundation.encode(e)))
    }

    func testDecodesWhatFoundationDecodes() throws {
        let text = #"{"cniVersion":"0.4.0","unknown":{"x":[1,2]},"interfaces":[{"name":"net1","mac":null,"mtu":1500}],"#
            + #""ips":[{"version":"4","address":"198.18.0.1/24","interface":0}],"dns":{}}"#
        XCTAssertEqual(try JSON.decode(CNIResult.self, from: Array(text.utf8)),
                       try JSONDecoder().decode(CNIResult.self, from: Data(text.utf8)))
        XCTAssertEqual(try JSON.decode(CNIResult.self, from: Array(text.utf8)).interfaces?[0].mac, nil, "null is absent")
        XCTAssertEqual(try JSON.decode([VLAN].self, from: Array("[1,4094]".utf8)), [VLAN(1)!, VLAN(4094)!])
    }

    func testValuesSurviveARoundTrip() throws {
        let v = JSONValue.object(["a": .array([.null, .bool(true), .number(-3), .number(0.25), .number(1e300)]),
                                  "s": .string("\u{0}\u{1f}\"\\/é😀"), "o": .object([:])])
        XCTAssertEqual(try JSONParser().parse(v.serialized), v)
        XCTAssertEqual(try JSON.decode(JSONValue.self, from: v.serialized), v)
        XCTAssertEqual(try JSON.tree(v), v)
    }

    func testOutputIsCanonical() {
        let v = JSONValue.object(["b": .number(100), "a": .number(1.5), "path": .string("/run/x"), "c": .string("\n\u{8}")])
        XCTAssertEqual(String(decoding: v.serialized, as: UTF8.self), #"{"a":1.5,"b":100,"c":"\n\u0008","path":"/run/x"}"#)
    }

    /// Conflists are written indented for people to read: a value a line, two spaces a level,
    /// keys sorted, empty containers on one line, and the same value when parsed back.
    func testIndentedOutputIsLaidOutAndParsesBack() throws {
        let v: JSONValue = .object(["name": .string("n/1"), "plugins": .array([.object(["type": .string("vfwire"), "vlan": .number(100)])]),
                                    "a": .array([]), "b": .object([:])])
        XCTAssertEqual(String(decoding: v.indented, as: UTF8.self), """
        {
          "a": [],
          "b": {},
          "name": "n/1",
          "plugins": [
            {
              "type": "vfwire",
              "vlan": 100
            }
          ]
        }
        """)
        XCTAssertEqual(try JSONParser().parse(v.indented), v)
        let result = try JSON.tree(full)
        XCTAssertEqual(try JSONParser().parse(result.indented), result)
    }

    func testShapeErrorsNameWhere() {
        func message<T: Decodable>(_ t: T.Type, _ text: String) -> String? {
            do { _ = try JSON.decode(t, from: Array(text.utf8)); return nil } catch { return error.message }
        }
        XCTAssertEqual(message(CNIResult.self, #"{"ips":[{"address":7}]}"#), "ips.0.address: expected a string, found a number")
        XCTAssertEqual(message(CNIResult.self, #"{"ips":[{}]}"#), "ips.0.address: missing")
        XCTAssertEqual(message(CNIResult.self, #"{"interfaces":[{"name":"a","mtu":1500.5}]}"#),
                       "interfaces.0.mtu: expected an integer that fits Int, found a number")
        XCTAssertEqual(message(UInt8.self, "256"), "expected an integer that fits UInt8, found a number")
        XCTAssertEqual(message(VLAN.self, "4095"), "VLAN 4095 out of range")
        XCTAssertEqual(message(CNIResult.self, "[]"), "expected an object, found an array")
        XCTAssertNotNil(message(CNIResult.self, "{"), "syntax errors are decode errors too")
        XCTAssertNil(message(CNIResult.self, "{}"))
    }

    func testNonFiniteNumbersAreRefused() {
        XCTAssertThrowsError(try JSON.encode([Double.nan]))
        XCTAssertEqual(try JSON.encode([0.5, 2]), Array("[0.5,2]".utf8))
    }
}

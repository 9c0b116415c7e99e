import XCTest
import OCIHook
import VFWireTypes

final class HookUnitTests: XCTestCase {
    func testNetworkRequests() throws {
        let r = try NetworkRequest.parse("a, b:eth5;mac=02:00:00:00:00:01;vlan=12 ,c")
        XCTAssertEqual(r.map(\.network.value), ["a", "b", "c"])
        XCTAssertEqual(r.map(\.ifname.value), ["net1", "eth5", "net3"])
        XCTAssertEqual(r[1].mac, MACAddress("02:00:00:00:00:01"))
        XCTAssertEqual(r[1].vlan, VLAN(12))
        XCTAssertEqual(try NetworkRequest.parse("").count, 0)
        for bad in ["../x", "a:eth/1", "a;vlan=4095", "a;mac=01:00:5e:00:00:01", "a;color=red", "a:eth1,b:eth1"] {
            XCTAssertThrowsError(try NetworkRequest.parse(bad), bad)
        }
    }

    func testStateParsing() throws {
        let s = try OCIState.parse(Array(#"{"ociVersion":"1.0.2","id":"abc","status":"creating","pid":42,"bundle":"/b","annotations":{"k":"v"}}"#.utf8))
        XCTAssertEqual(s.pid, 42)
        XCTAssertEqual(s.annotations?["k"], "v")
        XCTAssertThrowsError(try OCIState.parse(Array("{}".utf8)))
    }
}

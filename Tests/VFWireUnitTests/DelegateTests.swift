import XCTest
import CNIProtocol
import IPAM

/// IPAM delegation against a fake plugin that, like Debian's, stops at CNI 1.0.0.
final class DelegateTests: XCTestCase {
    var dir = ""
    let env = ["PATH": "/usr/bin:/bin", "CNI_CONTAINERID": "c1"]

    override func setUpWithError() throws {
        dir = try scratchDirectory(self)
        try writeScript(dir + "/old", """
        in=$(cat)
        case "$in" in *'"cniVersion":"1.1.0"'*) v=1.1.0 ;; *'"cniVersion":"1.0.0"'*) v=1.0.0 ;; *) v=other ;; esac
        echo "$CNI_COMMAND $v" >> \(dir)/calls
        case "$CNI_COMMAND $v" in
        VERSION*) echo '{"cniVersion":"0.3.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0"]}' ;;
        "ADD 1.1.0") echo '{"code":1,"msg":"incompatible CNI versions"}'; exit 1 ;;
        "ADD 1.0.0") echo '{"cniVersion":"1.0.0","ips":[{"address":"198.18.0.1/24"}]}' ;;
        *) echo '{"code":7,"msg":"unexpected"}'; exit 1 ;;
        esac
        """)
        try writeScript(dir + "/busy", """
        echo '{"code":11,"msg":"busy","details":"leases locked"}'
        exit 1
        """)
        try writeScript(dir + "/crash", "echo oops; exit 3\n")
    }

    func delegate(_ type: String) -> Delegate { Delegate(type: type, paths: ["/nonexistent", dir], cacheDir: dir + "/cache") }
    func input(_ v: CNIVersion) -> [UInt8] { Array("{\"cniVersion\":\"\(v.rawValue)\",\"name\":\"n\"}".utf8) }
    func calls() -> [String] {
        ((try? String(contentsOfFile: dir + "/calls", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func testAnOlderDelegateGetsTheNewestVersionItSpeaksAndIsAskedOnce() throws {
        let out = try delegate("old").run(.add, input: input, version: .v1_1_0, environment: env)
        XCTAssertTrue(String(decoding: out, as: UTF8.self).contains("198.18.0.1/24"))
        XCTAssertEqual(calls(), ["ADD 1.1.0", "VERSION other", "ADD 1.0.0"])
        _ = try delegate("old").run(.add, input: input, version: .v1_1_0, environment: env)
        XCTAssertEqual(calls().dropFirst(3), ["ADD 1.0.0"], "its versions are remembered")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir + "/cache").count, 1)
    }

    func testADelegatesErrorPassesThroughAsItPrintedIt() {
        XCTAssertThrowsError(try delegate("busy").run(.add, input: input, version: .v1_0_0, environment: env)) { e in
            guard case DelegateError.failed(let c) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(c.code, 11)
            XCTAssertEqual(c.msg, "IPAM: busy")
            XCTAssertEqual(c.details, "leases locked")
        }
        XCTAssertThrowsError(try delegate("crash").run(.add, input: input, version: .v1_0_0, environment: env)) { e in
            guard case DelegateError.failed(let c) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(c.code, 999)
            XCTAssertEqual(c.msg, "IPAM plugin failed with exit status 3")
            XCTAssertEqual(c.details, "oops\n")
        }
    }

    func testAMissingDelegateIsNamed() {
        XCTAssertThrowsError(try delegate("nosuch").run(.add, input: input, version: .v1_0_0, environment: env)) { e in
            guard case DelegateError.notFound(let m) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(m.contains("nosuch") && m.contains(dir), m)
        }
    }
}

import Foundation
import XCTest

/// What topology tests share: `vfwirectl topo` with its state in a scratch directory, and
/// commands run in the topology's namespace nodes.
class TopologyTestCase: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = try makeScratch("vfwire-topo-")
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func topo(_ args: [String], _ file: String) -> (status: Int32, out: String, err: String) {
        sh([vfwirectl, "topo", args[0], file] + args.dropFirst(),
           env: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "VFWIRE_TOPO_STATE": dir + "/state",
                 "VFWIRE_CNI_PATH": buildDir + ":" + referencePlugins])
    }

    func write(_ name: String, _ yaml: String) throws -> String {
        let p = dir + "/" + name
        try yaml.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    /// Two pings from namespace `ns` to `to`; true when one was answered.
    func ping(in ns: String, _ to: String) -> Bool {
        sh(["ip", "netns", "exec", ns, "ping", "-c", "2", "-i", "0.2", "-W", "1", to]).status == 0
    }

    /// `ip -n NS ARGS`, which must succeed: a failed step would fail a later ping for another reason.
    @discardableResult
    func ip(in ns: String, _ args: [String], file: StaticString = #filePath, line: UInt = #line) -> String {
        let r = sh(["ip", "-n", ns] + args)
        XCTAssertEqual(r.status, 0, "ip -n \(ns) \(args.joined(separator: " ")): \(r.err)", file: file, line: line)
        return r.out
    }
}

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

    /// The negative check that namespace `ns`'s eth1 is not on `target`'s segment. A VF is on
    /// its link's VLAN only, so even an address in the target's subnet (`borrowed`) on eth1 does
    /// not put it there. Its static route to that subnet through a neighbour (`route`, as
    /// `ip route` prints it) would win over the one the address adds, so it is deleted: `ns`
    /// then asks for the target's MAC on eth1 itself, with no detour. The same ping first
    /// answers through the neighbour, every step is checked (one that failed would make the ping
    /// fail for another reason), and afterwards the route is back and answers again.
    func assertNoDirectPath(in ns: String, to target: String, borrowing borrowed: String, route: [String], _ message: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(ping(in: ns, target), "\(ns) reaches \(target) through its neighbour", file: file, line: line)
        ip(in: ns, ["addr", "add", borrowed, "dev", "eth1"], file: file, line: line)
        ip(in: ns, ["route", "del"] + route, file: file, line: line)
        let direct = ip(in: ns, ["route", "get", target], file: file, line: line)
        XCTAssertTrue(direct.contains("dev eth1") && !direct.contains("via"), "\(ns) sends to \(target) directly: \(direct)", file: file, line: line)
        XCTAssertFalse(ping(in: ns, target), message, file: file, line: line)
        ip(in: ns, ["addr", "del", borrowed, "dev", "eth1"], file: file, line: line)
        ip(in: ns, ["route", "add"] + route, file: file, line: line)
        XCTAssertTrue(ping(in: ns, target), "\(ns) reaches \(target) through its neighbour again", file: file, line: line)
    }
}

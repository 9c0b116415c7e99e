import Foundation
import XCTest

/// `vfwirectl link`: software links between two namespaces, each carrying the probe.
final class LinkKindTests: XCTestCase {
    var dir = ""
    var object = ""
    // Made per test and dropped in tearDown: XCTest keeps every test case object to the end of
    // the run, so namespaces held by properties would outlive their test.
    var a: Netns!, b: Netns!

    override func setUpWithError() throws {
        a = Netns(); b = Netns()
        dir = try makeScratch("vfwire-link-")
        object = dir + "/redirect_peer.o"
        // As install.sh builds it: the toolchain's clang against libbpf-dev's headers.
        let cc = sh(["clang", "-O2", "-g", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu",
                     "-c", repoRoot + "/bpf/redirect_peer.c", "-o", object])
        guard cc.status == 0 else { throw SetupFailure("clang -target bpf: \(cc.err)") }
    }

    override func tearDown() {
        a = nil; b = nil
        try? FileManager.default.removeItem(atPath: dir)
    }

    func link(_ args: [String]) -> (status: Int32, out: String, err: String) {
        sh([vfwirectl, "link"] + args, env: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "VFWIRE_REDIRECT_PEER_OBJ": object])
    }

    func received(_ to: String) -> Int? {
        probe(["--from", a.name, "--to", "\(b.name):\(to)", "--count", "200", "--rate", "2000", "--json", "--no-ping"]).json["received"] as? Int
    }

    /// Namespaces whose names start with vfwl-: the middles of links.
    func middles() -> Set<String> {
        Set(sh(["ip", "netns", "list"]).out.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
            .filter { $0.hasPrefix("vfwl-") })
    }

    func testEveryKindCarriesTheProbeAndLeavesNothing() throws {
        let before = middles()
        for (i, kind) in ["veth", "ebpf", "mirred", "bridge", "macvlan"].enumerated() {
            let addrA = "198.19.10\(i).1", addrB = "198.19.10\(i).2"
            let r = link(["add", kind, "\(a.name):l\(i):\(addrA)/30", "\(b.name):l\(i):\(addrB)/30"])
            XCTAssertEqual(r.status, 0, "\(kind): \(r.err)")
            XCTAssertEqual(received(addrB), 200, "\(kind) carries every probe")
            XCTAssertEqual(link(["del", "\(a.name):l\(i)", "\(b.name):l\(i)"]).status, 0)
            XCTAssertNil(a.link("l\(i)"), "\(kind): its end is gone")
            XCTAssertNil(b.link("l\(i)"))
        }
        XCTAssertEqual(middles(), before, "no link namespace left")
    }

    /// The program is the data path: without its filter, the same link carries nothing.
    func testEbpfTrafficGoesThroughTheRedirectProgram() throws {
        let before = middles()
        XCTAssertEqual(link(["add", "ebpf", "\(a.name):e0:198.19.110.1/30", "\(b.name):e0:198.19.110.2/30"]).status, 0)
        defer { link(["del", "\(a.name):e0", "\(b.name):e0"]) }
        let m = try XCTUnwrap(middles().subtracting(before).first, "the link's own namespace")
        XCTAssertTrue(sh(["ip", "-n", m, "link", "show", "left"]).out.hasPrefix("10: left"), "the ifindex the program expects")
        let filters = sh(["ip", "netns", "exec", m, "tc", "filter", "show", "dev", "left", "ingress"]).out
        XCTAssertTrue(filters.contains("direct-action"), filters)
        XCTAssertFalse(sh(["ip", "-n", m, "-d", "link", "show", "left"]).out.contains("bridge"), "no bridge on the path")
        XCTAssertEqual(received("198.19.110.2"), 200)
        XCTAssertEqual(sh(["ip", "netns", "exec", m, "tc", "qdisc", "del", "dev", "left", "clsact"]).status, 0)
        XCTAssertEqual(received("198.19.110.2"), 0, "the middle ends are not otherwise connected")
    }

    func testMirredTrafficGoesThroughTheRedirectAction() throws {
        let before = middles()
        XCTAssertEqual(link(["add", "mirred", "\(a.name):m0:198.19.111.1/30", "\(b.name):m0:198.19.111.2/30"]).status, 0)
        defer { link(["del", "\(a.name):m0", "\(b.name):m0"]) }
        let m = try XCTUnwrap(middles().subtracting(before).first, "the link's own namespace")
        XCTAssertTrue(sh(["ip", "netns", "exec", m, "tc", "filter", "show", "dev", "right", "ingress"]).out.contains("mirred"))
        XCTAssertEqual(received("198.19.111.2"), 200)
        XCTAssertEqual(sh(["ip", "netns", "exec", m, "tc", "qdisc", "del", "dev", "right", "clsact"]).status, 0)
        XCTAssertEqual(received("198.19.111.2"), 0, "without the action the answers do not come back")
    }

    func testErrorsLeaveNothingBehind() throws {
        let before = middles()
        let noObject = sh([vfwirectl, "link", "add", "ebpf", "\(a.name):x0", "\(b.name):x0"],
                          env: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "VFWIRE_REDIRECT_PEER_OBJ": dir + "/none.o"])
        XCTAssertEqual(noObject.status, 1)
        XCTAssertTrue(noObject.err.contains("redirect_peer.c"), noObject.err)
        // The second end's name is taken: the link fails and takes its first end back.
        XCTAssertEqual(b.exec(["ip", "link", "add", "x1", "type", "veth", "peer", "name", "x1p"]).status, 0)
        let taken = link(["add", "bridge", "\(a.name):x1", "\(b.name):x1"])
        XCTAssertEqual(taken.status, 1)
        XCTAssertNil(a.link("x1"), "the first end was taken back")
        XCTAssertEqual(b.exec(["ip", "link", "show", "x1"]).status, 0, "what was there before stays")
        XCTAssertEqual(middles(), before)
        XCTAssertEqual(link(["add", "wire", "\(a.name):x2", "\(b.name):x2"]).status, 2)
    }
}

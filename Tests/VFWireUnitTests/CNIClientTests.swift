import XCTest
import CNIClient
import CNIProtocol
import JSON
import VFWireTypes

/// The CNI client against fake plugins in a temp dir: each logs what it was given.
final class CNIClientTests: XCTestCase {
    var dir = ""
    var client: CNIClient!
    let id = CNIIdentifier("c1")!
    let ifname = InterfaceName("eth1")!

    override func setUpWithError() throws {
        dir = try scratchDirectory(self)
        client = CNIClient(binDirs: [dir + "/bin"], cacheDir: dir + "/cache")
        try FileManager.default.createDirectory(atPath: dir + "/bin", withIntermediateDirectories: true)
        for name in ["a", "b"] {
            try writeScript(dir + "/bin/" + name, """
            in=$(cat)
            printf '%s' "$in" > \(dir)/\(name).$CNI_COMMAND.json
            echo "\(name) $CNI_COMMAND" >> \(dir)/order
            case $CNI_COMMAND in
            VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}' ;;
            ADD) echo '{"cniVersion":"1.0.0","interfaces":[{"name":"\(name)0"}],"ips":[]}' ;;
            esac
            """)
        }
        try writeScript(dir + "/bin/bad", """
        echo "bad $CNI_COMMAND" >> \(dir)/order
        echo '{"code":11,"msg":"busy","details":"try later"}'
        exit 1
        """)
    }

    func list(_ plugins: [[String: JSONValue]], version: CNIVersion = .v1_0_0) -> NetworkList {
        NetworkList(name: "n", cniVersion: version, plugins: plugins, path: dir + "/n.conflist")
    }

    func sent(_ file: String) throws -> [String: Any] { try readJSON(dir + "/" + file) as! [String: Any] }
    func order() -> [String] {
        ((try? String(contentsOfFile: dir + "/order", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func testRuntimeConfigGoesOnlyToPluginsThatDeclareTheCapability() throws {
        let l = list([["type": .string("a"), "capabilities": .object(["mac": .bool(true)])], ["type": .string("b")]])
        _ = try client.add(l, containerID: id, netns: "/run/netns/x", ifname: ifname, args: "IgnoreUnknown=1",
                           runtimeConfig: ["mac": .string("02:00:00:00:00:01"), "vlan": .number(7)])
        let a = try sent("a.ADD.json")
        XCTAssertEqual(a["runtimeConfig"] as? [String: String], ["mac": "02:00:00:00:00:01"], "only what a declares")
        XCTAssertNil(a["capabilities"], "capabilities are the runtime's business, not the plugin's")
        XCTAssertEqual(a["name"] as? String, "n")
        XCTAssertEqual(a["cniVersion"] as? String, "1.0.0")
        let b = try sent("b.ADD.json")
        XCTAssertNil(b["runtimeConfig"], "b declares nothing")
        XCTAssertEqual(((b["prevResult"] as? [String: Any])?["interfaces"] as? [[String: Any]])?.first?["name"] as? String, "a0",
                       "each plugin gets the previous one's result")
    }

    func testTheCacheRemembersADDForDEL() throws {
        let l = list([["type": .string("a")], ["type": .string("b")]])
        let result = try client.add(l, containerID: id, netns: "/run/netns/x", ifname: ifname, args: "", runtimeConfig: [:])
        XCTAssertEqual(result["interfaces"]?.arrayValue?.first?["name"], .string("b0"))
        let cached = client.cached(id)
        XCTAssertEqual(cached.count, 1)
        XCTAssertEqual(cached.first?.network, "n")
        XCTAssertEqual(cached.first?.result, result)
        XCTAssertEqual(client.cached(CNIIdentifier("other")!).count, 0)
        try client.del(try XCTUnwrap(cached.first))
        XCTAssertEqual(order(), ["a ADD", "b ADD", "b DEL", "a DEL"], "DEL in reverse")
        XCTAssertEqual((try sent("a.DEL.json"))["prevResult"] as? [String: Any] != nil, true, "DEL gets the cached result")
        XCTAssertEqual(client.cached(id).count, 0, "forgotten after DEL")
    }

    /// A topology brought up before the cache moved to the JSON module comes down after it:
    /// entries Foundation wrote (keys unsorted, slashes escaped) read back whole.
    func testCacheEntriesFoundationWroteReadBack() throws {
        let old = #"{"netns":"\/run\/netns\/x","containerID":"c1","network":"n","ifname":"eth1","args":"","cniVersion":"1.0.0","plugins":[{"type":"a","path":"\/a\/b"}],"result":{"ips":[{"address":"198.18.0.1\/24"}]}}"#
        let entry = try JSONDecoder().decode(CachedAttachment.self, from: Data(old.utf8))
        XCTAssertEqual(String(decoding: try JSONEncoder().encode(entry), as: UTF8.self).contains(#"\/run\/netns"#), true,
                       "this is the format Foundation writes")
        try FileManager.default.createDirectory(atPath: dir + "/cache/c1", withIntermediateDirectories: true)
        try Data(old.utf8).write(to: URL(fileURLWithPath: dir + "/cache/c1/n-eth1.json"))
        let back = try XCTUnwrap(client.cached(id).first)
        XCTAssertEqual(back.netns, "/run/netns/x")
        XCTAssertEqual(back.plugins, entry.plugins)
        XCTAssertEqual(back.plugins.first?["path"], .string("/a/b"))
        XCTAssertEqual(back.result, entry.result)
    }

    /// A result that says two things at once (a key twice) is refused, naming the key, and
    /// what ran is undone, rather than one of the two values being picked silently.
    func testAnAmbiguousResultIsRefusedAndUndone() throws {
        try writeScript(dir + "/bin/twice", """
        echo "twice $CNI_COMMAND" >> \(dir)/order
        [ "$CNI_COMMAND" = ADD ] && echo '{"cniVersion":"1.0.0","ips":[],"ips":[{"address":"198.18.0.1/24"}]}'
        exit 0
        """)
        let l = list([["type": .string("a")], ["type": .string("twice")]])
        XCTAssertThrowsError(try client.add(l, containerID: id, netns: "/run/netns/x", ifname: ifname, args: "", runtimeConfig: [:])) { e in
            guard case CNIClientError.noResult(let m) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(m.contains("twice ADD for network n returned an ambiguous result") && m.contains("'ips'"), m)
        }
        XCTAssertEqual(order(), ["a ADD", "twice ADD", "twice DEL", "a DEL"])
        XCTAssertEqual(client.cached(id).count, 0)
    }

    func testAFailedADDUndoesWhatRanAndReportsThePluginsError() throws {
        let l = list([["type": .string("a")], ["type": .string("bad")]])
        XCTAssertThrowsError(try client.add(l, containerID: id, netns: "/run/netns/x", ifname: ifname, args: "", runtimeConfig: [:])) { e in
            guard case CNIClientError.pluginFailed(let c) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(c.code, 11)
            XCTAssertEqual(c.msg, "bad ADD for network n: busy")
            XCTAssertEqual(c.details, "try later")
        }
        XCTAssertEqual(order(), ["a ADD", "bad ADD", "bad DEL", "a DEL"])
        XCTAssertEqual(client.cached(id).count, 1, "a DEL that failed keeps the cache for the next try")
    }

    func testNegotiationRefusesAVersionAPluginDoesNotSpeak() throws {
        XCTAssertNoThrow(try client.negotiate(list([["type": .string("a")]])))
        XCTAssertThrowsError(try client.negotiate(list([["type": .string("a")]], version: .v1_1_0))) { e in
            guard case CNIClientError.incompatible = e else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try client.negotiate(list([["type": .string("nosuch")]]))) { e in
            guard case CNIClientError.pluginMissing = e else { return XCTFail("\(e)") }
        }
    }
}

import Foundation
import XCTest

/// Input that used to be misread silently, and state that crashes and faults used to leave behind.
final class TrustTests: XCTestCase {
    func conf(_ pf: SimPF, _ extra: [String: Any] = [:]) -> [String: Any] {
        var o: [String: Any] = ["cniVersion": "1.1.0", "name": "trust", "type": "vfwire", "pf": pf.name, "vlan": 41]
        for (k, v) in extra { o[k] = v }
        return o
    }

    /// Each is refused with its code, within 100 ms of the plugin's own work, and the host stays
    /// as it was; the same ADD with the input fixed succeeds first.
    func testMisreadInputIsRefusedAndChangesNothing() throws {
        let pf = try SimPF(vfs: 1)
        let ns = Netns()
        let good = json(conf(pf))
        let before = hostSnapshot(pf)
        XCTAssertEqual(cni("ADD", good, netns: ns.path).status, 0, "the probe works with good input")
        XCTAssertNotNil(ns.link("net1"))
        XCTAssertEqual(cni("DEL", good, netns: ns.path).status, 0)
        XCTAssertEqual(settledSnapshot(pf, before), before)

        // A bind mount of the host's namespace, as `ip netns` makes for others.
        let hostAlias = "/run/netns/vft-host-" + randomSuffix(8)
        FileManager.default.createFile(atPath: hostAlias, contents: nil)
        XCTAssertEqual(sh(["mount", "--bind", "/proc/self/ns/net", hostAlias]).status, 0)
        defer { sh(["umount", hostAlias]); unlink(hostAlias) }
        let base = String(good.dropLast())
        let cases: [(what: String, conf: String, netns: String, ifname: String, code: Int, msg: String)] = [
            ("typo in a key", json(conf(pf, ["vlna": 100])), ns.path, "net1", 7, "unknown key 'vlna'; did you mean 'vlan'?"),
            ("duplicate key", base + ",\"vlan\":12}", ns.path, "net1", 7, "'vlan' appears twice"),
            ("host netns by /proc/self", good, "/proc/self/ns/net", "net1", 4, "host's own network namespace"),
            ("host netns by /proc/thread-self", good, "/proc/thread-self/ns/net", "net1", 4, "host's own network namespace"),
            ("host netns by another path", good, hostAlias, "net1", 4, "host's own network namespace"),
            ("printf pattern in ifname", good, ns.path, "net%d", 4, "CNI_IFNAME"),
            ("deep nesting", base + ",\"x\":" + String(repeating: "[", count: 4096) + String(repeating: "]", count: 4096) + "}",
             ns.path, "net1", 6, "nesting deeper"),
            ("huge netconf", base + ",\"runtimeConfig\":{\"x\":\"" + String(repeating: "a", count: 5_900_000) + "\"}}",
             ns.path, "net1", 6, "over the limit"),
        ]
        for c in cases {
            let t0 = Date()
            let r = cni("ADD", c.conf, netns: c.netns, ifname: c.ifname)
            let took = Date().timeIntervalSince(t0)
            XCTAssertEqual(r.status, 1, c.what)
            XCTAssertEqual(r.code, c.code, "\(c.what): \(r.out)")
            XCTAssertTrue((r.json["msg"] as? String ?? "").contains(c.msg), "\(c.what): \(r.out)")
            print("\(c.what): refused with \(r.code ?? -1) in \(Int(took * 1000)) ms (process start included)")
            XCTAssertNil(ns.link("net1"), c.what)
            XCTAssertNil(ns.link("net0"), c.what)
            XCTAssertEqual(hostSnapshot(pf), before, "\(c.what): host unchanged")
        }
    }

    /// A container may rename its interface; DEL still finds the VF, by the ifindex recorded.
    func testVFRenamedInTheContainerIsGivenBack() throws {
        let pf = try SimPF(vfs: 1)
        let ns = Netns()
        let c = json(conf(pf, ["mac": "02:00:00:00:41:01"]))
        let before = hostSnapshot(pf)
        XCTAssertEqual(cni("ADD", c, netns: ns.path).status, 0)
        XCTAssertEqual(ns.exec(["ip", "link", "set", "net1", "down"]).status, 0)
        XCTAssertEqual(ns.exec(["ip", "link", "set", "net1", "name", "eth9"]).status, 0)
        XCTAssertNotNil(ns.link("eth9"))
        XCTAssertEqual(cni("DEL", c, netns: ns.path).status, 0)
        XCTAssertNil(ns.link("eth9"), "the renamed VF left the container")
        XCTAssertEqual(settledSnapshot(pf, before), before)
    }

    /// A PID that no process has: one that has exited and been reaped.
    func deadPID() -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try! p.run()
        p.waitUntilExit()
        return p.processIdentifier
    }

    /// What a kill between write and rename leaves goes on the VF's next ADD; a live writer's stays.
    func testTempFilesOfDeadWritersAreSwept() throws {
        let pf = try SimPF(vfs: 1)
        let ns = Netns()
        let vf = pf.vfPCI(0)
        let dead = deadPID(), live = getpid()
        let emulated = "/run/vfwire/sim/sys/devices/vfwire-sim/\(pf.pci)/vfwire-sim/vf0.json"
        let attachDead = "/run/vfwire/attach/trust\(randomSuffix()).tmp.\(dead)"
        let dead3 = ["/run/vfwire/alloc/\(vf).tmp.\(dead)", attachDead, emulated + ".tmp.\(dead)"]
        let live3 = ["/run/vfwire/alloc/\(vf).tmp.\(live)", emulated + ".tmp.\(live)"]
        for f in dead3 + live3 { XCTAssertTrue(FileManager.default.createFile(atPath: f, contents: Data("x".utf8)), f) }
        defer { for f in dead3 + live3 { unlink(f) } }
        let c = json(conf(pf))
        XCTAssertEqual(cni("ADD", c, netns: ns.path).status, 0)
        for f in dead3 { XCTAssertFalse(FileManager.default.fileExists(atPath: f), "\(f) swept") }
        for f in live3 { XCTAssertTrue(FileManager.default.fileExists(atPath: f), "\(f) of a live writer kept") }
        XCTAssertEqual(cni("DEL", c, netns: ns.path).status, 0)
    }

    /// A DEL killed after removing the record but before clearing the lock's claim left the VF
    /// claimed for as long as the old namespace lived.
    func testClaimWithoutARecordDoesNotHoldTheVF() throws {
        let pf = try SimPF(vfs: 1)
        let a = Netns(), b = Netns()
        let vf = pf.vfPCI(0)
        let c = json(conf(pf))
        XCTAssertEqual(cni("ADD", c, containerID: "a", netns: a.path).status, 0)
        XCTAssertEqual(cni("ADD", c, containerID: "b", netns: b.path).code, 101, "held while attached")
        // The DEL's steps up to the kill: the VF home, record and index gone, the claim not.
        XCTAssertEqual(a.exec(["ip", "link", "set", "net1", "netns", "1"]).status, 0)
        for f in (try? FileManager.default.contentsOfDirectory(atPath: "/run/vfwire/attach")) ?? []
        where (try? FileManager.default.destinationOfSymbolicLink(atPath: "/run/vfwire/attach/" + f)) == vf {
            unlink("/run/vfwire/attach/" + f)
        }
        unlink("/run/vfwire/alloc/" + vf)
        XCTAssertTrue((try? String(contentsOfFile: "/run/vfwire/locks/" + vf, encoding: .utf8))?.contains(a.path) ?? false,
                      "the claim names a's namespace")
        let r = cni("ADD", c, containerID: "b", netns: b.path)
        XCTAssertEqual(r.status, 0, r.out)
        XCTAssertEqual(cni("DEL", c, containerID: "b", netns: b.path).status, 0)
    }

    /// One corrupt record is kept aside; ADD takes another VF, STATUS and GC say so.
    func testCorruptRecordIsQuarantined() throws {
        let pf = try SimPF(vfs: 2)
        let ns = Netns()
        let vf0 = pf.vfPCI(0)
        let quarantined = "/run/vfwire/alloc/\(vf0).corrupt"
        defer { unlink(quarantined); unlink("/run/vfwire/alloc/" + vf0) }
        let c = json(conf(pf))
        XCTAssertEqual(cni("STATUS", c, netns: nil).status, 0, "ready before")
        XCTAssertTrue(FileManager.default.createFile(atPath: "/run/vfwire/alloc/" + vf0, contents: Data("{\"key\":".utf8)))
        let r = cni("ADD", c, netns: ns.path)
        XCTAssertEqual(r.status, 0, r.out)
        XCTAssertEqual(pf.table()[1]?["netdev"], "-", "VF 1 was taken")
        XCTAssertTrue(FileManager.default.fileExists(atPath: quarantined), "kept, under a name that says so")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/run/vfwire/alloc/" + vf0))
        let st = cni("STATUS", c, netns: nil)
        XCTAssertEqual(st.code, 50, st.out)
        XCTAssertTrue((st.json["msg"] as? String ?? "").contains(quarantined), st.out)
        XCTAssertEqual(cni("DEL", c, netns: ns.path).status, 0)

        // GC finds one too, rather than skipping it silently.
        unlink(quarantined)
        XCTAssertTrue(FileManager.default.createFile(atPath: "/run/vfwire/alloc/" + vf0, contents: Data()))
        let gc = cni("GC", c, netns: nil)
        XCTAssertEqual(gc.code, 5, gc.out)
        XCTAssertTrue((gc.json["msg"] as? String ?? "").contains(quarantined), gc.out)
        XCTAssertTrue(FileManager.default.fileExists(atPath: quarantined))
    }

    /// Files of host-local's data dir that name `container`: its leases.
    func leases(_ dir: String, of container: String) -> [String] {
        let net = dir + "/trust"
        return ((try? FileManager.default.contentsOfDirectory(atPath: net)) ?? []).filter {
            (try? String(contentsOfFile: net + "/" + $0, encoding: .utf8))?.contains(cid(container)) ?? false
        }
    }

    /// Debian's host-local (CNI 1.0) is not sent STATUS or GC; the leases of attachments
    /// released without a DEL, by reclaim or GC, are released too.
    func testIPAMIsAskedItsVersionAndLeasesAreReleased() throws {
        let pf = try SimPF(vfs: 1)
        let dataDir = "/tmp/vfwire-trust-ipam-" + randomSuffix(8)
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let c = json(conf(pf, ["ipam": ["type": "host-local", "dataDir": dataDir,
                                        "ranges": [[["subnet": "198.18.100.0/24", "rangeStart": "198.18.100.7", "rangeEnd": "198.18.100.9"]]]]]))
        let status = cni("STATUS", c, netns: nil)
        XCTAssertEqual(status.status, 0, status.out)
        let emptyGC = cni("GC", c, netns: nil)
        XCTAssertEqual(emptyGC.status, 0, emptyGC.out)

        let a = Netns(), b = Netns()
        XCTAssertEqual(cni("ADD", c, containerID: "a", netns: a.path).status, 0)
        XCTAssertEqual(leases(dataDir, of: "a").count, 1, "the probe sees a's lease")
        sh(["ip", "netns", "del", a.name])
        let rb = cni("ADD", c, containerID: "b", netns: b.path)
        XCTAssertEqual(rb.status, 0, rb.out)
        XCTAssertEqual(leases(dataDir, of: "a"), [], "reclaiming a's VF released a's lease")
        XCTAssertEqual(leases(dataDir, of: "b").count, 1)

        sh(["ip", "netns", "del", b.name])
        let gc = cni("GC", c, netns: nil)
        XCTAssertEqual(gc.status, 0, gc.out)
        XCTAssertEqual(leases(dataDir, of: "b"), [], "GC released b's lease")
        XCTAssertEqual(pf.table()[0]?["netdev"].map { $0 != "-" }, true, "and b's VF")
    }

    /// `ls --json` rows of one PF, by VF index, parsed as a script would.
    func lsRows(_ pf: SimPF) -> [Int: [String: Any]] {
        let r = sh([vfwirectl, "ls", "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        let vfs = ((try? JSONSerialization.jsonObject(with: Data(r.out.utf8))) as? [String: Any])?["vfs"] as? [[String: Any]] ?? []
        var out: [Int: [String: Any]] = [:]
        for row in vfs where row["pf"] as? String == pf.name { out[row["vf"] as! Int] = row }
        return out
    }

    func testOneViewOfWhoHoldsWhat() throws {
        let pf = try SimPF(vfs: 2)
        let a = Netns(), b = Netns(), c = Netns()
        let conf = json(conf(pf))
        var rows = lsRows(pf)
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(rows[0]?["state"] as? String, "free")
        XCTAssertEqual(rows[0]?["pci"] as? String, pf.vfPCI(0))
        XCTAssertNotNil(rows[0]?["netdev"] as? String)

        XCTAssertEqual(cni("ADD", conf, containerID: "a", netns: a.path).status, 0)
        XCTAssertEqual(cni("ADD", conf, containerID: "b", netns: b.path).status, 0)
        rows = lsRows(pf)
        XCTAssertEqual(rows[0]?["state"] as? String, "attached")
        let owner = rows[0]?["owner"] as? [String: Any]
        XCTAssertEqual(owner?["containerID"] as? String, cid("a"))
        XCTAssertEqual(owner?["network"] as? String, "trust")
        XCTAssertEqual(owner?["ifname"] as? String, "net1")
        XCTAssertEqual(owner?["netns"] as? String, a.path)
        XCTAssertEqual(rows[0]?["vlan"] as? Int, 41)
        XCTAssertNil(rows[0]?["netdev"] as? String, "the netdev is in the container")

        // No free VF: the message says who holds them.
        let full = cni("ADD", conf, containerID: "c", netns: c.path)
        XCTAssertEqual(full.code, 101)
        XCTAssertTrue((full.json["msg"] as? String ?? "").contains("attached to trust/\(cid("a"))/net1"), full.out)

        // The emulated PF is not destroyed under a container without --force.
        let refused = sh([vfwirectl, "sim", "destroy", pf.name])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.err.contains("--force") && refused.err.contains(cid("a")), refused.err)
        XCTAssertNotNil(a.link("net1"), "the container kept its interface")

        sh(["ip", "netns", "del", b.name])
        XCTAssertEqual(lsRows(pf)[1]?["state"] as? String, "stale")
        XCTAssertEqual(cni("DEL", conf, containerID: "a", netns: a.path).status, 0)
        XCTAssertEqual(cni("GC", conf, netns: nil).status, 0)
        rows = lsRows(pf)
        XCTAssertEqual(rows[0]?["state"] as? String, "free")
        XCTAssertEqual(rows[1]?["state"] as? String, "free")
    }

    func testCtlHelpVersionAndMessagesThatNameTheFix() throws {
        let pf = try SimPF(vfs: 1)
        let help = sh([vfwirectl, "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.out.contains("vfwirectl ls") && help.err.isEmpty)
        XCTAssertEqual(sh([vfwirectl, "help"]).status, 0)
        XCTAssertEqual(sh([vfwirectl, "nonsense"]).status, 2)
        let v = sh([vfwirectl, "--version"])
        XCTAssertEqual(v.status, 0)
        XCTAssertTrue(v.out.hasPrefix("vfwirectl "), v.out)

        let shown = sh([vfwirectl, "vf", "show", pf.name, "--json"])
        let table = (try? JSONSerialization.jsonObject(with: Data(shown.out.utf8))) as? [String: Any]
        XCTAssertEqual(table?["pf"] as? String, pf.name)
        XCTAssertEqual((table?["vfs"] as? [[String: Any]])?.first?["pci"] as? String, pf.vfPCI(0))
        XCTAssertEqual((table?["vfs"] as? [[String: Any]])?.first?["spoofchk"] as? String, "on")

        let nopf = sh([vfwirectl, "vf", "show", "NOPF"])
        XCTAssertEqual(nopf.status, 1)
        XCTAssertTrue(nopf.err.contains("no interface named NOPF") && nopf.err.contains(pf.name), nopf.err)
        let ns = Netns()
        let missing = cni("ADD", json(conf(pf, ["pf": "nosuchpf0"])), netns: ns.path)
        XCTAssertEqual(missing.code, 7)
        XCTAssertTrue((missing.json["msg"] as? String ?? "").contains(pf.name), "names the PFs that exist: \(missing.out)")
        let spoof = cni("ADD", json(conf(pf, ["spoofchk": true])), netns: ns.path)
        XCTAssertEqual(spoof.code, 7)
        XCTAssertTrue((spoof.json["msg"] as? String ?? "").contains("must be \"on\" or \"off\""), spoof.out)
    }

    /// An ADD killed between making a VLAN's bridge and moving the port onto it (the 9th
    /// sendmsg) left the empty bridge forever; the PF's next VLAN change removes it.
    func testEmptyVLANBridgeOfTheSwitchIsRemoved() throws {
        let pf = try SimPF(vfs: 1)
        let ns = Netns()
        let before = hostSnapshot(pf)
        let stale = pf.name + ".123"
        XCTAssertEqual(sh(["ip", "link", "add", stale, "type", "bridge"]).status, 0)
        defer { sh(["ip", "link", "del", stale]) }
        XCTAssertEqual(sh(["ip", "link", "show", stale]).status, 0, "the probe sees the bridge")
        let c = json(conf(pf))
        XCTAssertEqual(cni("ADD", c, netns: ns.path).status, 0)
        XCTAssertNotEqual(sh(["ip", "link", "show", stale]).status, 0, "the empty bridge is gone")
        XCTAssertEqual(sh(["ip", "link", "show", pf.name + ".41"]).status, 0, "the VF's own segment stays")
        XCTAssertEqual(cni("DEL", c, netns: ns.path).status, 0)
        XCTAssertEqual(settledSnapshot(pf, before), before)
    }

    /// podman through hooks.d, one container on two networks: the annotation separates them
    /// with a space, which podman passes intact (it splits on commas).
    func testPodmanContainerOnTwoNetworks() throws {
        let pf = try SimPF(vfs: 2)
        let podman = try Podman(scratchPrefix: "vfwire-trustpm-")
        let suffix = randomSuffix(6)
        let name = "vfw-two-" + suffix, hooksDir = podman.scratch + "/hooks.d"
        @discardableResult
        func pm(_ args: [String]) -> Run { podman(["--hooks-dir", hooksDir] + args) }
        defer {
            pm(["rm", "-f", "-t", "0", "--ignore", name])
            podman.remove()
            withExtendedLifetime(pf) {}
        }
        let before = hostSnapshot(pf)
        try podman.prepare(hooksDir: hooksDir)
        let nets = ["a", "b"].map { "vfwtwo\($0)-" + suffix }
        for (i, n) in nets.enumerated() {
            try json(["cniVersion": "1.0.0", "name": n, "plugins": [["type": "vfwire", "pf": pf.name, "vlan": 51 + i] as [String: Any]]])
                .write(toFile: "\(podman.netDir)/\(n).conflist", atomically: true, encoding: .utf8)
        }
        _ = try writeShippedHooksDir(hooksDir, adding: hookArgs(cache: podman.scratch + "/hook-cache", confDir: podman.netDir))
        let run = pm(["run", "-d", "--name", name, "--annotation", "vfwire.io/networks=\(nets[0]):eth1 \(nets[1]):eth2",
                      "--network", "none", podman.image, "sleep", "300"])
        XCTAssertEqual(run.status, 0, "podman run: \(run.out)\(run.err)")
        guard run.status == 0 else { return }
        let links = pm(["exec", name, "ip", "-o", "link"]).out
        XCTAssertTrue(links.contains(" eth1@") || links.contains(" eth1:"), links)
        XCTAssertTrue(links.contains(" eth2@") || links.contains(" eth2:"), links)
        XCTAssertEqual(Set(pf.table().values.compactMap { $0["vlan"] }), ["51", "52"], "one VF per network, each on its VLAN")
        XCTAssertEqual(pm(["rm", "-f", "-t", "0", name]).status, 0)
        XCTAssertEqual(settledSnapshot(pf, before), before)
    }

    /// `vfwirectl gc` releases what no DEL will: every attachment whose namespace is gone, of
    /// every network, with its IPAM lease; `--dry-run` only says so.
    func testCtlGCReleasesStaleAttachmentsOfEveryNetwork() throws {
        let pf = try SimPF(vfs: 2)
        let dataDir = "/tmp/vfwire-trust-ctlgc-" + randomSuffix(8)
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let withIPAM = json(conf(pf, ["ipam": ["type": "host-local", "dataDir": dataDir,
                                               "ranges": [[["subnet": "198.18.101.0/24"]]]]]))
        let plain = json(conf(pf, ["name": "trust2"]))
        let a = Netns(), b = Netns()
        XCTAssertEqual(cni("ADD", withIPAM, containerID: "a", netns: a.path).status, 0)
        XCTAssertEqual(cni("ADD", plain, containerID: "b", netns: b.path).status, 0)
        XCTAssertEqual(leases(dataDir, of: "a").count, 1)
        XCTAssertEqual(sh([vfwirectl, "gc"]).status, 0)
        XCTAssertEqual(lsRows(pf)[0]?["state"] as? String, "attached", "live attachments are not touched")
        sh(["ip", "netns", "del", a.name])
        sh(["ip", "netns", "del", b.name])

        let dry = sh([vfwirectl, "gc", "--dry-run"])
        XCTAssertEqual(dry.status, 0, dry.err)
        XCTAssertTrue(dry.out.contains(cid("a")) && dry.out.contains(cid("b")) && dry.out.contains("host-local lease"), dry.out)
        XCTAssertEqual(Set(lsRows(pf).values.compactMap { $0["state"] as? String }), ["stale"], "a dry run changes nothing")

        let run = sh([vfwirectl, "gc"])
        XCTAssertEqual(run.status, 0, run.err)
        XCTAssertEqual(Set(lsRows(pf).values.compactMap { $0["state"] as? String }), ["free"], run.out)
        XCTAssertEqual(leases(dataDir, of: "a"), [], "the lease went with the VF")
    }
}

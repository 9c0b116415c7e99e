import Foundation
import XCTest

/// VFs given back when what vfwire knew of them is lost or out of date: a corrupt record, a VF
/// the container passed on into another namespace, an ADD killed at any netlink request.
final class RecoveryTests: XCTestCase {
    func conf(_ pf: SimPF, _ extra: [String: Any] = [:]) -> [String: Any] {
        var o: [String: Any] = ["cniVersion": "1.1.0", "name": "t2recovery", "type": "vfwire", "pf": pf.name, "vlan": 42]
        for (k, v) in extra { o[k] = v }
        return o
    }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// The container moved its VF into a namespace of its own and renamed it there; DEL still
    /// brings it home with its name, VLAN and MAC, and drops the record.
    func testVFMovedIntoAnotherNamespaceIsGivenBack() throws {
        let pf = try SimPF(vfs: 1, prefix: "t2")
        let ns = Netns(prefix: "t2-"), other = Netns(prefix: "t2-")
        let c = json(conf(pf, ["mac": "02:00:00:00:42:02"]))
        let before = hostSnapshot(pf)
        XCTAssertEqual(cni("ADD", c, netns: ns.path).status, 0)
        XCTAssertEqual(ns.exec(["ip", "link", "set", "net1", "netns", other.name]).status, 0)
        XCTAssertEqual(other.exec(["ip", "link", "set", "net1", "name", "eth7"]).status, 0)
        XCTAssertNotNil(other.link("eth7"), "the probe sees the VF in the second namespace")
        XCTAssertNotEqual(hostSnapshot(pf), before)
        let del = cni("DEL", c, netns: ns.path)
        XCTAssertEqual(del.status, 0, del.out + del.err)
        XCTAssertNil(other.link("eth7"), "the VF left the second namespace")
        XCTAssertEqual(settledSnapshot(pf, before), before, "name, MAC, VLAN restored, record gone")
    }

    /// A live attachment whose record is corrupt: DEL (found by the attachment index, or by
    /// its name in the container when the index is gone too) and GC (once the namespace died)
    /// give the VF back from what it shows, keep the record aside and say what they could not know.
    func testCorruptRecordIsGivenBackFromTheVF() throws {
        let pf = try SimPF(vfs: 1, prefix: "t2")
        let vf = pf.vfPCI(0)
        let record = "/run/vfwire/alloc/" + vf, quarantined = record + ".corrupt"
        defer { unlink(quarantined); unlink(record) }
        let c = json(conf(pf, ["mac": "02:00:00:00:42:01"]))
        let before = hostSnapshot(pf)
        func attachAndCorrupt(_ ns: Netns) {
            XCTAssertEqual(cni("ADD", c, netns: ns.path).status, 0)
            XCTAssertNotNil(ns.link("net1"))
            XCTAssertEqual(pf.table()[0]?["vlan"], "42", "the probe sees the VF on its VLAN")
            XCTAssertTrue(FileManager.default.createFile(atPath: record, contents: Data("{\"key\":".utf8)))
        }
        func assertGivenBack(_ report: String, _ what: String) {
            print("\(what): \(report)")
            XCTAssertEqual(settledSnapshot(pf, before), before, "\(what): back in the host as it was, off VLAN 42")
            XCTAssertTrue(report.contains("restored from what the VF shows") && report.contains("not known")
                          && report.contains(quarantined), "\(what): \(report)")
            XCTAssertTrue(exists(quarantined), "\(what): the record is kept for a human")
            unlink(quarantined)
        }

        func delAndAssertGivenBack(_ ns: Netns, _ what: String) {
            let del = cni("DEL", c, netns: ns.path)
            XCTAssertEqual(del.status, 0, del.out)
            XCTAssertNil(ns.link("net1"), "\(what): the VF left the container")
            assertGivenBack(del.err, what)
        }

        let a = Netns(prefix: "t2-")
        attachAndCorrupt(a)
        delAndAssertGivenBack(a, "DEL by the index")

        let b = Netns(prefix: "t2-")
        attachAndCorrupt(b)
        for f in (try? FileManager.default.contentsOfDirectory(atPath: "/run/vfwire/attach")) ?? []
        where (try? FileManager.default.destinationOfSymbolicLink(atPath: "/run/vfwire/attach/" + f)) == vf {
            unlink("/run/vfwire/attach/" + f)
        }
        delAndAssertGivenBack(b, "DEL by the name in the container")

        let d = Netns(prefix: "t2-")
        attachAndCorrupt(d)
        sh(["ip", "netns", "del", d.name])
        // The dying namespace hands the VF back a moment later, still on its VLAN.
        let deadline = Date().addingTimeInterval(5)
        while pf.table()[0]?["netdev"] == "-" && Date() < deadline { usleep(100_000) }
        XCTAssertEqual(pf.table()[0]?["vlan"], "42")
        let gc = cni("GC", c, netns: nil)
        XCTAssertEqual(gc.code, 5, gc.out)
        assertGivenBack(gc.json["msg"] as? String ?? "", "GC after the namespace died")
    }

    /// The emulated switch's VLAN bridges of `pf`.
    func vlanBridges(_ pf: SimPF) -> [String] {
        sh(["ip", "-o", "link", "show", "type", "bridge"]).out.split(separator: "\n").compactMap { line in
            let name = line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)
            return name.hasPrefix(pf.name + ".") ? name : nil
        }
    }

    /// Those with no port: segments no VF is on.
    func emptyVLANBridges(_ pf: SimPF) -> [String] {
        vlanBridges(pf).filter { sh(["ip", "-o", "link", "show", "master", $0]).out.isEmpty }
    }

    /// Temp files of writers of `pf`'s state: its VFs' records and its emulated VF table.
    func tempFiles(_ pf: SimPF) -> [String] {
        let vfs = pf.table().values.compactMap { $0["pci"] }
        let table = "/run/vfwire/sim/sys/devices/vfwire-sim/\(pf.pci)/vfwire-sim"
        let alloc = ((try? FileManager.default.contentsOfDirectory(atPath: "/run/vfwire/alloc")) ?? [])
            .filter { f in vfs.contains { f.hasPrefix($0 + ".tmp.") } }
        return alloc + ((try? FileManager.default.contentsOfDirectory(atPath: table)) ?? []).filter { $0.contains(".tmp.") }
    }

    /// ADD killed (SIGKILL) at its Nth sendmsg, for each N of a range that covers making the
    /// VLAN's bridge and moving the VF's port onto it; the next DEL, ADD or GC leaves no VLAN
    /// bridge, no VF astray and no temp file.
    func testADDKilledAtEachNetlinkRequestLeavesNothingBehind() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/strace") else {
            throw SetupFailure("strace is missing: install.sh --test-deps installs it")
        }
        let pf = try SimPF(vfs: 2, prefix: "t2")
        let c = json(conf(pf, ["vlan": 43])), other = json(conf(pf, ["vlan": 44]))
        let before = hostSnapshot(pf)
        var leftEmpty: [Int] = []
        for n in 4...13 {
            let ns = Netns(prefix: "t2-")
            let env = ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": cid("k\(n)"), "CNI_IFNAME": "net1", "CNI_NETNS": ns.path,
                       "CNI_PATH": referencePlugins, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
            let killed = sh(["/usr/bin/strace", "-f", "-o", "/dev/null", "-e", "trace=sendmsg",
                             "-e", "inject=sendmsg:signal=SIGKILL:when=\(n)", vfwire], stdin: c, env: env)
            XCTAssertNotEqual(killed.status, 0, "ADD was killed at sendmsg \(n)")
            let bridges = vlanBridges(pf)
            if !emptyVLANBridges(pf).isEmpty { leftEmpty.append(n) }
            switch n % 3 {
            case 0:
                let del = cni("DEL", c, containerID: "k\(n)", netns: ns.path)
                XCTAssertEqual(del.status, 0, "DEL after the kill at sendmsg \(n): \(del.out)")
            case 1:
                let o = Netns(prefix: "t2-")
                XCTAssertEqual(cni("ADD", other, containerID: "o\(n)", netns: o.path).status, 0)
                XCTAssertEqual(emptyVLANBridges(pf), [], "the next ADD after the kill at sendmsg \(n)")
                XCTAssertEqual(cni("DEL", other, containerID: "o\(n)", netns: o.path).status, 0)
                XCTAssertEqual(cni("DEL", c, containerID: "k\(n)", netns: ns.path).status, 0)
            default:
                sh(["ip", "netns", "del", ns.name])
                let gc = cni("GC", c, netns: nil)
                XCTAssertEqual(gc.status, 0, "GC after the kill at sendmsg \(n): \(gc.out)")
            }
            XCTAssertEqual(vlanBridges(pf), [], "after the kill at sendmsg \(n) (bridges then: \(bridges))")
            XCTAssertEqual(settledSnapshot(pf, before), before, "after the kill at sendmsg \(n)")
            XCTAssertEqual(tempFiles(pf), [], "after the kill at sendmsg \(n)")
        }
        print("kills that left an empty VLAN bridge behind: sendmsg \(leftEmpty)")
        XCTAssertFalse(leftEmpty.isEmpty, "some kill fell between making the bridge and moving the port onto it")
    }
}

import XCTest
import FileSystem
import Namespaces
import Sysfs
@testable import VFState
import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

/// The state directory in a temp dir, and a fake sysfs tree beside it.
final class StateDirTests: XCTestCase {
    var dir = ""
    var state: StateDir!
    let pfAddress = PCIAddress("0000:01:00.0")!
    let vf0 = PCIAddress("0000:01:00.1")!
    let vf1 = PCIAddress("0000:01:00.2")!

    override func setUpWithError() throws {
        dir = try scratchDirectory(self)
        state = StateDir(RunPaths(root: dir + "/run"))
        try state.prepare()
    }

    func key(_ c: String) -> AttachmentKey { AttachmentKey(network: "n", containerID: c, ifname: "eth1") }

    /// A record; `alive` makes its namespace this process's, which lives as long as the test.
    func record(_ c: String, vf: PCIAddress, alive: Bool) -> AllocationRecord {
        let ns = "/proc/self/ns/net"
        return AllocationRecord(key: key(c), vf: vf, pf: pfAddress, vfIndex: 0, sysfsRoot: dir + "/sys", netns: ns,
                                netnsID: alive ? NetNS.identity(at: ns) : NetNSIdentity(dev: 0, ino: 0), mode: .kernel,
                                original: VFConfig(), netdev: nil, originalDriver: nil, applied: VFChange())
    }

    /// A PF with two VFs laid out as the kernel does; `netdevs` says which VFs have one in the host.
    func fakePF(netdevs: [PCIAddress]) throws -> PCIFunction {
        let root = SysfsRoot(dir + "/sys")
        let devices = root.path + "/bus/pci/devices/"
        let fm = FileManager.default
        for a in [pfAddress, vf0, vf1] { try fm.createDirectory(atPath: devices + a.description + "/net", withIntermediateDirectories: true) }
        for (i, a) in [vf0, vf1].enumerated() {
            try fm.createSymbolicLink(atPath: devices + pfAddress.description + "/virtfn\(i)", withDestinationPath: "../" + a.description)
        }
        for a in netdevs { try fm.createDirectory(atPath: devices + a.description + "/net/dev\(a.function)", withIntermediateDirectories: true) }
        return root.function(pfAddress)
    }

    func testRecordsAndTheAttachmentIndex() throws {
        XCTAssertNil(try state.record(of: vf0))
        XCTAssertNil(state.vf(for: key("a"), scan: true))
        let lock = try state.lock(vf0)
        let r = record("a", vf: vf0, alive: true)
        try state.write(r, lock: lock)
        XCTAssertEqual(try state.record(of: vf0), r)
        XCTAssertEqual(state.vf(for: key("a"), scan: false), vf0, "found through the index")
        XCTAssertNil(state.vf(for: key("b"), scan: true))
        XCTAssertEqual(state.allRecords(), [r])
        // A crash between the record and its index: only a scan finds it.
        unlink(dir + "/run/attach/" + (try FileManager.default.contentsOfDirectory(atPath: dir + "/run/attach").first!))
        XCTAssertNil(state.vf(for: key("a"), scan: false))
        XCTAssertEqual(state.vf(for: key("a"), scan: true), vf0)
        state.remove(r, lock: lock)
        XCTAssertNil(try state.record(of: vf0))
        XCTAssertEqual(state.allRecords(), [])
    }

    func testACorruptRecordIsAnError() throws {
        try "{".write(toFile: dir + "/run/alloc/" + vf0.description, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try state.record(of: vf0)) { e in
            guard case StateError.corrupt = e else { return XCTFail("\(e)") }
        }
    }

    func testLocksAreExclusiveAndTellWhetherTheClaimLives() throws {
        do {
            let held = try XCTUnwrap(try state.tryLock(vf0))
            XCTAssertNil(try state.tryLock(vf0), "a second hold waits")
            XCTAssertNotNil(try state.tryLock(vf1), "another VF is another lock")
            XCTAssertThrowsError(try state.lock(vf0, seconds: 0.05)) { e in
                guard case StateError.held = e else { return XCTFail("\(e)") }
            }
            XCTAssertNil(held.claimAlive, "no claim written yet")
            try state.write(record("a", vf: vf0, alive: true), lock: held)
            XCTAssertEqual(held.claimAlive, true)
            try state.write(record("a", vf: vf0, alive: false), lock: held)
            XCTAssertEqual(held.claimAlive, false)
        }
        XCTAssertNotNil(try state.tryLock(vf0), "dropping a lock releases it")
    }

    func testTheNetdevNamesLockIsOneForTheHostAndNoVFs() throws {
        // A reloaded VF driver names its new netdev from the host's one ethN sequence, so two
        // PFs' DELs must take turns: the lock is one, whichever VF or PF asks.
        do {
            let names = try state.netdevNamesLock()
            XCTAssertThrowsError(try state.netdevNamesLock(seconds: 0.05)) { e in
                guard case StateError.held(let why) = e else { return XCTFail("\(e)") }
                XCTAssertTrue(why.contains("netdev names"), why)
            }
            XCTAssertNotNil(try state.tryLock(vf0), "no VF's lock")
            withExtendedLifetime(names) {}
        }
        XCTAssertNoThrow(try state.netdevNamesLock(seconds: 0.05), "dropping it releases it")
    }

    func testAFreeVFHasAHostNetdevAndNoLivingClaim() throws {
        let pf = try fakePF(netdevs: [vf0, vf1])
        XCTAssertEqual(state.freeVFs(of: pf).map(\.address), [vf0, vf1])
        let lock = try state.lock(vf0)
        try state.write(record("a", vf: vf0, alive: true), lock: lock)
        XCTAssertEqual(state.freeVFs(of: pf).map(\.address), [vf1], "claimed by a living namespace")
        try state.write(record("a", vf: vf0, alive: false), lock: lock)
        XCTAssertEqual(state.freeVFs(of: pf).map(\.address), [vf0, vf1], "a dead namespace's claim is reclaimed by ADD")
        try FileManager.default.removeItem(atPath: pf.root.function(vf1).dir + "/net/dev2")
        XCTAssertFalse(state.isFree(pf.root.function(vf1)), "no netdev in the host: someone else's (vfio-pci, a VM)")
    }

    func testForgetDropsEveryClaimOnAVF() throws {
        do {
            let lock = try state.lock(vf0)
            try state.write(record("a", vf: vf0, alive: true), lock: lock)
        }
        state.forget(vf0)
        XCTAssertNil(try state.record(of: vf0))
        XCTAssertNil(state.vf(for: key("a"), scan: false))
    }
}

final class StateDirPartialWriteTests: XCTestCase {
    /// The record went down but its index could not (one free inode, here a directory in the
    /// index's way): the failed first write leaves no record.
    func testFailedIndexUndoesANewRecord() throws {
        let dir = try scratchDirectory(self)
        let state = StateDir(RunPaths(root: dir + "/run"))
        try state.prepare()
        let vf = PCIAddress("0000:01:00.1")!
        let r = AllocationRecord(key: AttachmentKey(network: "n", containerID: "c", ifname: "eth1"), vf: vf,
                                 pf: PCIAddress("0000:01:00.0")!, vfIndex: 0, sysfsRoot: dir, netns: nil, netnsID: nil,
                                 mode: .kernel, original: VFConfig(), netdev: nil, originalDriver: nil, applied: VFChange())
        let lock = try XCTUnwrap(try state.tryLock(vf))
        try state.write(r, lock: lock)
        XCTAssertNotNil(try state.record(of: vf), "the probe: a write that can index leaves its record")
        state.remove(r, lock: lock)

        let blocker = dir + "/run/attach/" + r.key.fileName
        try FileManager.default.createDirectory(atPath: blocker + "/x", withIntermediateDirectories: true)
        XCTAssertThrowsError(try state.write(r, lock: lock))
        XCTAssertNil(try state.record(of: vf), "no record left for the failed ADD")
        XCTAssertEqual(FS.list(dir + "/run/attach").filter { $0.contains(".tmp.") }, [])
    }
}

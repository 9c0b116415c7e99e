import FileSystem
import JSON
import Namespaces
import Sysfs
import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

/// A VF claim that cannot be read or taken now.
public enum StateError: Error, CustomStringConvertible, Sendable {
    /// Another operation holds the VF's lock: try again later.
    case held(String)
    case corrupt(String)
    public var description: String { switch self { case .held(let m), .corrupt(let m): m } }
}

/// The CNI spec's attachment key.
public struct AttachmentKey: Codable, Hashable, Sendable {
    public var network: String
    public var containerID: String
    public var ifname: String
    public init(network: String, containerID: String, ifname: String) {
        self.network = network; self.containerID = containerID; self.ifname = ifname
    }

    /// A file name for the key. FNV-1a is enough: the record behind it repeats the key, and a
    /// mismatch is treated as absent.
    var fileName: String {
        String(fnv1a(Array(network.utf8) + [0] + Array(containerID.utf8) + [0] + Array(ifname.utf8)), radix: 16)
    }
}

/// What a netdev looked like before vfwire took it.
public struct NetdevState: Codable, Equatable, Sendable {
    public var name: String
    public var mac: MACAddress?
    public var mtu: Int
    public var up: Bool
    /// The netdev's ifindex, which a move into a namespace keeps: what finds the VF there
    /// after the container renamed it, or after the kernel expanded a name pattern. nil in
    /// records from before it was kept.
    public var ifindex: Int32?
    public init(name: String, mac: MACAddress?, mtu: Int, up: Bool, ifindex: Int32? = nil) {
        self.name = name; self.mac = mac; self.mtu = mtu; self.up = up; self.ifindex = ifindex
    }
}

/// An IPAM plugin's lease: the plugin, where it was found, and the netconf ADD gave it.
public struct IPAMLease: Codable, Equatable, Sendable {
    public var type: String
    public var paths: [String]
    public var netconf: String
    public init(type: String, paths: [String], netconf: String) { self.type = type; self.paths = paths; self.netconf = netconf }
}

/// Everything needed to give a VF back exactly as it was, written before the first change.
public struct AllocationRecord: Codable, Equatable, Sendable {
    public var key: AttachmentKey
    public var vf: PCIAddress
    public var pf: PCIAddress
    public var vfIndex: Int
    public var sysfsRoot: String
    public var netns: String?
    public var netnsID: NetNSIdentity?
    public var mode: VFMode
    public var original: VFConfig
    /// The VF's netdev before ADD; nil for a VF that was already on vfio-pci.
    public var netdev: NetdevState?
    /// The driver the VF had before ADD, to give it back to after vfio mode.
    public var originalDriver: String?
    /// The VF table fields ADD changed; DEL undoes exactly these.
    public var applied: VFChange
    /// What releases the attachment's IPAM lease when no DEL comes (GC, reclaim on ADD).
    public var ipam: IPAMLease?

    public init(key: AttachmentKey, vf: PCIAddress, pf: PCIAddress, vfIndex: Int, sysfsRoot: String,
                netns: String?, netnsID: NetNSIdentity?, mode: VFMode, original: VFConfig, netdev: NetdevState?,
                originalDriver: String?, applied: VFChange) {
        self.key = key; self.vf = vf; self.pf = pf; self.vfIndex = vfIndex; self.sysfsRoot = sysfsRoot
        self.netns = netns; self.netnsID = netnsID; self.mode = mode; self.original = original
        self.netdev = netdev; self.originalDriver = originalDriver; self.applied = applied
    }

    public static func parse(_ bytes: [UInt8]) throws -> AllocationRecord {
        try JSON.decode(AllocationRecord.self, from: bytes)
    }

    /// The container's namespace still exists when its path still names the same namespace.
    public var netnsAlive: Bool {
        guard let p = netns, let id = netnsID else { return false }
        return NetNS.identity(at: p) == id
    }
}

/// An exclusive hold on one VF, across processes. Dropping it (or the process dying) releases it.
public final class VFLock {
    let fd: Int32
    init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }

    /// Whether the lock file names a claim whose namespace still lives. The record is the
    /// authority; this is what lets a pool scan pass attached VFs without decoding theirs: nil
    /// when the file names no claim (or one from before it did), so the record must be read.
    public var claimAlive: Bool? {
        var buf = [UInt8](repeating: 0, count: 4200)
        let n = pread(fd, &buf, buf.count, 0)
        guard n > 0 else { return nil }
        let f = String(decoding: buf[0..<n], as: UTF8.self).split(separator: " ", maxSplits: 2)
        guard f.count == 3, let dev = UInt64(f[0]), let ino = UInt64(f[1]) else { return nil }
        return NetNS.identity(at: String(f[2])) == NetNSIdentity(dev: dev, ino: ino)
    }

    func setClaim(_ r: AllocationRecord?) {
        _ = ftruncate(fd, 0)
        guard let r, let id = r.netnsID, let ns = r.netns else { return }
        let text = Array("\(id.dev) \(id.ino) \(ns)".utf8)
        _ = pwrite(fd, text, text.count, 0)
    }
}

/// vfwire's claims on VFs, in `RunPaths`:
///   locks/<pci>     flock target per VF (never removed, so a lock is never on an unlinked file)
///   locks/netdev-names  flock target of `netdevNamesLock`
///   alloc/<pci>     the AllocationRecord of the VF's current attachment
///   attach/<key>    symlink to the VF's address, to find a record from an attachment key
public struct StateDir: Sendable {
    public let paths: RunPaths
    public static let `default` = StateDir(RunPaths.standard)

    public init(_ paths: RunPaths) { self.paths = paths }

    public func prepare() throws {
        for d in [paths.locks, paths.alloc, paths.attach] where !FS.exists(d) { try FS.mkdirs(d) }
    }

    /// Tries once to lock `vf`; nil when another process holds it.
    public func tryLock(_ vf: PCIAddress) throws -> VFLock? { try tryLock(file: vf.description, what: "VF \(vf)") }

    /// Locks `vf`, waiting up to `seconds` for another operation on it to finish.
    public func lock(_ vf: PCIAddress, seconds: Double = 30) throws -> VFLock {
        try lock(file: vf.description, what: "VF \(vf)", seconds: seconds)
    }

    /// Held while a VF driver reloads and a VF netdev is renamed back: a driver registers a new
    /// netdev under the next free ethN of the whole host, which can be the name a VF of any PF
    /// is about to take back (two DELs on VFs of two igb PFs came home with each other's names).
    public func netdevNamesLock(seconds: Double = 30) throws -> VFLock {
        try lock(file: "netdev-names", what: "the host's netdev names", seconds: seconds)
    }

    func tryLock(file: String, what: String) throws -> VFLock? {
        let fd = open(paths.locks + "/" + file, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FSError.failed("cannot open lock for \(what): \(FS.errnoText())") }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return VFLock(fd: fd) }
        close(fd)
        return nil
    }

    func lock(file: String, what: String, seconds: Double) throws -> VFLock {
        let deadline = monotonic() + seconds
        while true {
            if let l = try tryLock(file: file, what: what) { return l }
            if monotonic() > deadline {
                throw StateError.held("\(what) is held by another vfwire operation for over \(Int(seconds)) s")
            }
            usleep(2_000)
        }
    }

    public func record(of vf: PCIAddress) throws -> AllocationRecord? {
        guard let bytes = FS.read(paths.alloc + "/" + vf.description) else { return nil }
        do { return try AllocationRecord.parse(bytes) } catch {
            throw StateError.corrupt("allocation record of \(vf) is corrupt: \(error)")
        }
    }

    /// Drops the temp files of writers killed between write and rename: those of `vf`'s
    /// record (the caller holds its lock) and of the attachment index, or all when nil (GC).
    public func sweep(_ vf: PCIAddress?) {
        FS.sweepTemporaries(in: paths.alloc, of: vf?.description)
        FS.sweepTemporaries(in: paths.attach)
    }

    public func hasRecord(_ vf: PCIAddress) -> Bool { FS.exists(paths.alloc + "/" + vf.description) }

    /// Where a corrupt record is kept for a human: its VF's state is unknown, so no ADD may
    /// take the VF until someone looks (`vfwirectl ls` shows it) and removes the file.
    public func quarantinePath(_ vf: PCIAddress) -> String { paths.alloc + "/" + vf.description + ".corrupt" }

    public func isQuarantined(_ vf: PCIAddress) -> Bool { FS.exists(quarantinePath(vf)) }

    /// Moves `vf`'s unreadable record aside and drops its claim, so that scans pass the VF
    /// instead of failing on it. The attachment index stays: it is what still tells a DEL of
    /// that attachment which VF to give back. The caller must hold the VF's lock.
    public func quarantine(_ vf: PCIAddress, lock: VFLock) {
        rename(paths.alloc + "/" + vf.description, quarantinePath(vf))
        lock.setClaim(nil)
    }

    /// The VFs whose record is kept aside as corrupt.
    public func quarantinedVFs() -> [PCIAddress] {
        FS.list(paths.alloc).filter { $0.hasSuffix(".corrupt") }.compactMap { PCIAddress(String($0.dropLast(8))) }
    }

    /// Drops every attachment index entry that leads to `vf`, once its attachment is released
    /// without a record to name it. The caller must hold the VF's lock.
    public func dropIndex(of vf: PCIAddress, lock: VFLock) {
        for f in FS.list(paths.attach) where FS.readlink(paths.attach + "/" + f) == vf.description {
            unlink(paths.attach + "/" + f)
        }
    }

    /// The caller must hold the VF's lock.
    public func write(_ r: AllocationRecord, lock: VFLock) throws {
        try write(r)
        lock.setClaim(r)
    }

    /// The caller must hold the VF's lock.
    func write(_ r: AllocationRecord) throws {
        let bytes: [UInt8]
        do { bytes = try JSON.encode(r) } catch { throw FSError.failed("cannot encode record: \(error)") }
        let path = paths.alloc + "/" + r.vf.description
        let isNew = !FS.exists(path)
        try FS.writeAtomically(path, bytes)
        let link = paths.attach + "/" + r.key.fileName
        let tmp = link + ".tmp.\(getpid())"
        unlink(tmp)
        guard symlink(r.vf.description, tmp) == 0, rename(tmp, link) == 0 else {
            let why = FS.errnoText()
            // Nothing has changed yet when the first write fails (the last free inode went
            // to the record): a record left behind would claim a VF for a failed ADD.
            unlink(tmp)
            if isNew { unlink(path) }
            throw FSError.failed("cannot index attachment \(r.key.containerID)/\(r.key.ifname): \(why)")
        }
    }

    /// The caller must hold the VF's lock.
    public func remove(_ r: AllocationRecord, lock: VFLock) {
        let link = paths.attach + "/" + r.key.fileName
        if FS.readlink(link) == r.vf.description { unlink(link) }
        unlink(paths.alloc + "/" + r.vf.description)
        lock.setClaim(nil)
    }

    /// Drops every claim on `vf`, for when the device itself goes away (its PF is removed): a
    /// claim outliving it would otherwise apply to a new device at the same address.
    public func forget(_ vf: PCIAddress) {
        guard let lock = try? lock(vf, seconds: 5) else { return }
        if let r = try? record(of: vf) { remove(r, lock: lock) }
        unlink(paths.alloc + "/" + vf.description)
        withExtendedLifetime(lock) {}
    }

    /// The VF an attachment holds, if any. Re-read under the VF's lock before acting.
    /// `scan` also searches every record, for one a crash left without its index: DEL wants
    /// that; ADD does not pay for it, since such a record is reclaimed with its VF anyway.
    public func vf(for key: AttachmentKey, scan: Bool) -> PCIAddress? {
        if let a = FS.readlink(paths.attach + "/" + key.fileName).flatMap(PCIAddress.init) { return a }
        return scan ? allRecords().first { $0.key == key }?.vf : nil
    }

    /// Whether `vf` can go to a new attachment: its netdev sits unused in the host and no
    /// attachment whose namespace lives claims it (ADD reclaims one whose namespace is gone).
    /// A VF on vfio-pci without a record of ours has no host netdev: it is someone else's.
    public func isFree(_ vf: PCIFunction) -> Bool {
        !vf.netdevs.isEmpty && !isQuarantined(vf.address) && !((try? record(of: vf.address))??.netnsAlive ?? false)
    }

    /// The free VFs of `pf`, in VF index order.
    public func freeVFs(of pf: PCIFunction) -> [PCIFunction] {
        pf.virtfns().sorted { $0.key < $1.key }.map(\.value).filter(isFree)
    }

    /// The VFs with a record, readable or not.
    public func recordedVFs() -> [PCIAddress] { FS.list(paths.alloc).compactMap(PCIAddress.init) }

    public func allRecords() -> [AllocationRecord] { recordedVFs().compactMap { try? record(of: $0) } }
}

public func monotonic() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

/// A tree laid out like /sys: the kernel's own, or the emulated NIC's. Everything above the PF
/// driver reads PCI topology through this type only, so both look the same to it.
public struct SysfsRoot: Hashable, Sendable {
    public let path: String
    public init(_ path: String) { self.path = path }

    public static let kernel = SysfsRoot("/sys")
    /// Where `vfwirectl sim` lays out emulated PCI devices.
    public static let emulated = SysfsRoot("/run/vfwire/sim/sys")

    /// The roots searched, kernel first, so a real device always wins.
    public static let all: [SysfsRoot] = [.kernel, .emulated]

    public func function(_ address: PCIAddress) -> PCIFunction {
        PCIFunction(root: self, address: address)
    }
}

/// One PCI function in a sysfs tree.
public struct PCIFunction: Hashable, Sendable, CustomStringConvertible {
    public let root: SysfsRoot
    public let address: PCIAddress

    public var dir: String { root.path + "/bus/pci/devices/" + address.description }
    public var description: String { address.description }

    public var exists: Bool { FS.exists(dir) }

    /// The bound driver's name, or nil when unbound.
    public var driver: String? { FS.readlink(dir + "/driver").map(FS.basename) }

    /// For a VF, its PF.
    public var physfn: PCIFunction? {
        FS.readlink(dir + "/physfn").map(FS.basename).flatMap(PCIAddress.init).map(root.function)
    }

    /// For a PF, its VFs by index.
    public func virtfns() -> [Int: PCIFunction] {
        var out: [Int: PCIFunction] = [:]
        for entry in FS.list(dir) where entry.hasPrefix("virtfn") {
            guard let n = Int(entry.dropFirst(6)),
                  let a = FS.readlink(dir + "/" + entry).map(FS.basename).flatMap(PCIAddress.init)
            else { continue }
            out[n] = root.function(a)
        }
        return out
    }

    /// The netdevs of this function that are in the sysfs mounter's network namespace (the
    /// host's): a VF moved into a container has none here.
    public var netdevs: [String] { FS.list(dir + "/net").sorted() }

    public var iommuGroup: Int? { FS.readlink(dir + "/iommu_group").map(FS.basename).flatMap { Int($0) } }

    public var numVFs: Int? { FS.readInt(dir + "/sriov_numvfs") }
    public var totalVFs: Int? { FS.readInt(dir + "/sriov_totalvfs") }

    /// The VF index of `vf` under this PF.
    public func index(of vf: PCIAddress) -> Int? {
        virtfns().first { $0.value.address == vf }?.key
    }
}

public enum Sysfs {
    /// The PCI function behind netdev `name`, searching each root's class/net.
    public static func pf(netdev name: InterfaceName) -> PCIFunction? {
        for root in SysfsRoot.all {
            let link = root.path + "/class/net/" + name.value + "/device"
            if let target = FS.readlink(link), let a = PCIAddress(FS.basename(target)) {
                return root.function(a)
            }
        }
        return nil
    }

    /// The PCI function at `address` in whichever root has it.
    public static func function(_ address: PCIAddress) -> PCIFunction? {
        SysfsRoot.all.lazy.map { $0.function(address) }.first { $0.exists }
    }
}

/// The few file operations the sysfs model needs, on plain libc.
public enum FS {
    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    public static func readlink(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = Glibc.readlink(path, &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func basename(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    public static func list(_ path: String) -> [String] {
        guard let d = opendir(path) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { out.append(name) }
        }
        return out
    }

    public static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = Glibc.read(fd, &buf, buf.count)
            if n < 0 { return nil }
            if n == 0 { return out }
            out.append(contentsOf: buf[0..<n])
        }
    }

    public static func readString(_ path: String) -> String? {
        read(path).map { String(decoding: $0, as: UTF8.self).trimmingTrailingNewlines() }
    }

    public static func readInt(_ path: String) -> Int? { readString(path).flatMap { Int($0) } }

    /// Writes `bytes` to `path` so that readers see the old content or the new, never a part:
    /// a temp file in the same directory, then rename. No fsync: everything vfwire keeps lives
    /// in /run and describes hardware state that a reboot resets anyway.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8]) throws(VFWireError) {
        let tmp = path + ".tmp.\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io("cannot write \(tmp): \(errnoText())") }
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { close(fd); unlink(tmp); throw .io("cannot write \(tmp): \(errnoText())") }
            off += n
        }
        close(fd)
        guard rename(tmp, path) == 0 else {
            let e = errnoText(); unlink(tmp)
            throw .io("cannot rename \(tmp) to \(path): \(e)")
        }
    }

    public static func write(_ path: String, _ text: String) throws(VFWireError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io("cannot open \(path): \(errnoText())") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard Glibc.write(fd, bytes, bytes.count) == bytes.count else {
            throw .io("cannot write \(path): \(errnoText())")
        }
    }

    public static func mkdirs(_ path: String) throws(VFWireError) {
        var cur = ""
        for part in path.split(separator: "/") {
            cur += "/" + part
            if mkdir(cur, 0o755) != 0 && errno != EEXIST {
                throw .io("cannot create \(cur): \(errnoText())")
            }
        }
    }

    public static func symlink(_ target: String, _ path: String) throws(VFWireError) {
        unlink(path)
        guard Glibc.symlink(target, path) == 0 else { throw .io("cannot link \(path): \(errnoText())") }
    }

    /// Removes a tree; only ever called on trees vfwire made.
    public static func removeTree(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for e in list(path) { removeTree(path + "/" + e) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    public static func errnoText(_ e: Int32 = errno) -> String { String(cString: strerror(e)) }
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var s = Substring(self)
        while let l = s.last, l == "\n" || l == " " || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}

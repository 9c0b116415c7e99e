#if canImport(Glibc)
import Glibc
#endif

/// File operations on plain libc, for sysfs, /proc and vfwire's own state files.
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
    public static func writeAtomically(_ path: String, _ bytes: [UInt8]) throws(FSError) {
        let tmp = path + ".tmp.\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .failed("cannot write \(tmp): \(errnoText())") }
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { close(fd); unlink(tmp); throw .failed("cannot write \(tmp): \(errnoText())") }
            off += n
        }
        close(fd)
        guard rename(tmp, path) == 0 else {
            let e = errnoText(); unlink(tmp)
            throw .failed("cannot rename \(tmp) to \(path): \(e)")
        }
    }

    /// Removes what `writeAtomically` left in `dir` when killed between write and rename:
    /// `NAME.tmp.PID` whose PID is gone (a live one is a write in flight). Only for `name`
    /// when given.
    public static func sweepTemporaries(in dir: String, of name: String? = nil) {
        for f in list(dir) {
            let parts = f.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count >= 3, parts[parts.count - 2] == "tmp",
                  name == nil || parts.dropLast(2).joined(separator: ".") == name,
                  let pid = Int32(parts[parts.count - 1]), pid > 0, kill(pid, 0) != 0, errno == ESRCH else { continue }
            unlink(dir + "/" + f)
        }
    }

    public static func write(_ path: String, _ text: String) throws(FSError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .failed("cannot open \(path): \(errnoText())") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard Glibc.write(fd, bytes, bytes.count) == bytes.count else {
            throw .failed("cannot write \(path): \(errnoText())")
        }
    }

    /// All of `text` to descriptor `fd` (stdout, stderr, a log), without Foundation's buffering.
    public static func write(fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            off += n
        }
    }

    public static func mkdirs(_ path: String) throws(FSError) {
        var cur = ""
        for part in path.split(separator: "/") {
            cur += "/" + part
            if mkdir(cur, 0o755) != 0 && errno != EEXIST {
                throw .failed("cannot create \(cur): \(errnoText())")
            }
        }
    }

    public static func symlink(_ target: String, _ path: String) throws(FSError) {
        unlink(path)
        guard Glibc.symlink(target, path) == 0 else { throw .failed("cannot link \(path): \(errnoText())") }
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
    public func trimmingTrailingNewlines() -> String {
        var s = Substring(self)
        while let l = s.last, l == "\n" || l == " " || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}

/// A file operation that failed: what was tried, and the system's reason.
public enum FSError: Error, CustomStringConvertible, Sendable {
    case failed(String)
    public var description: String { switch self { case .failed(let m): m } }
}

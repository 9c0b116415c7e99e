import CNetlink
import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

/// A network namespace that cannot be used: one that cannot be opened (or is none) is the
/// caller's to name, one that cannot be entered is the system's failure.
public enum NamespaceError: Error, CustomStringConvertible, Sendable {
    case cannotOpen(String)
    case cannotEnter(String)
    /// A namespace to outlive the container could not be made (PersistentNetNS).
    case cannotCreate(String)
    public var description: String { switch self { case .cannotOpen(let m), .cannotEnter(let m), .cannotCreate(let m): m } }
}

/// Identifies a network namespace for as long as it lives: nsfs device and inode. A path such as
/// /proc/PID/ns/net can later name another namespace; this cannot.
public struct NetNSIdentity: Codable, Hashable, Sendable {
    public var dev: UInt64
    public var ino: UInt64
    public init(dev: UInt64, ino: UInt64) { self.dev = dev; self.ino = ino }
}

/// An open network namespace. Entering one changes only the calling thread, so vfwire does
/// namespace work on the main thread of a single-threaded process, never from Swift tasks.
public final class NetNS {
    public let fd: Int32
    public let path: String
    public let identity: NetNSIdentity

    private static let nsfsMagic: Int = 0x6e73_6673

    public init(path: String) throws(NamespaceError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            throw .cannotOpen("cannot open network namespace \(path): \(String(cString: strerror(e)))")
        }
        var fs = statfs()
        var st = stat()
        guard fstatfs(fd, &fs) == 0, Int(fs.f_type) == Self.nsfsMagic, fstat(fd, &st) == 0 else {
            close(fd)
            throw .cannotOpen("\(path) is not a network namespace")
        }
        self.fd = fd
        self.path = path
        identity = NetNSIdentity(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino))
    }

    deinit { close(fd) }

    /// The namespace the calling thread is in now.
    public static func current() throws(NamespaceError) -> NetNS {
        try NetNS(path: "/proc/thread-self/ns/net")
    }

    /// The identity of whatever namespace `path` names now, or nil if it names none.
    public static func identity(at path: String) -> NetNSIdentity? {
        var st = stat()
        var fs = statfs()
        guard statfs(path, &fs) == 0, Int(fs.f_type) == nsfsMagic, stat(path, &st) == 0 else { return nil }
        return NetNSIdentity(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino))
    }

    /// Runs `body` inside this namespace and always returns to the original one.
    public func run<T>(_ body: () throws -> T) throws -> T {
        let home = try NetNS.current()
        if home.identity == identity { return try body() }
        guard vfw_setns_net(fd) == 0 else {
            let e = errno
            throw NamespaceError.cannotEnter("cannot enter network namespace \(path): \(String(cString: strerror(e)))")
        }
        defer {
            // Failing to come back would leave later host-side work in the container: stop.
            if vfw_setns_net(home.fd) != 0 { fatalError("cannot return to the host network namespace") }
        }
        return try body()
    }
}

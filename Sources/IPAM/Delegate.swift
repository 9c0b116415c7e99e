import CNIProtocol
import JSON
import Subprocess
import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

/// Runs a delegated CNI plugin (IPAM) the way libcni's invoke package does: found in CNI_PATH,
/// same environment but for CNI_COMMAND, netconf on stdin, result or error JSON on stdout, its
/// stderr passed through to ours. vfwire writes no IPAM of its own: host-local, static and dhcp
/// are the reference plugins.
public struct Delegate: Sendable {
    public let type: String
    public let paths: [String]
    /// Where what a delegate said of its versions is remembered, so a config newer than the
    /// delegate costs one extra exec once per delegate binary, not two on every call.
    let cacheDir: String

    public init(type: String, paths: [String], cacheDir: String = RunPaths.standard.delegates) {
        self.type = type; self.paths = paths; self.cacheDir = cacheDir
    }

    public func executable() throws -> String {
        if let exe = Child.find(type, in: paths) { return exe }
        throw DelegateError.notFound("IPAM plugin \(type) not found in CNI_PATH (\(paths.joined(separator: ":")))")
    }

    /// Runs `command` to completion and returns its stdout.
    public func run(_ command: CNICommand, input: @escaping (CNIVersion) -> [UInt8], version: CNIVersion,
                    environment: [String: String]) throws -> [UInt8] {
        try start(command, input: input, version: version, environment: environment).finish()
    }

    /// Starts `command` and returns at once, so the caller can do its own slow work (a netns
    /// move sleeps in the kernel for an RCU grace period) while the delegate runs. Every
    /// started delegate must be finished.
    public func start(_ command: CNICommand, input: @escaping (CNIVersion) -> [UInt8], version: CNIVersion,
                      environment: [String: String]) throws -> Running {
        let exe = try executable()
        var env = environment
        env["CNI_COMMAND"] = command.rawValue
        let use = knownVersions(exe).flatMap { v in v.filter { $0 <= version }.max() } ?? version
        return Running(delegate: self, exe: exe, env: env, input: input, version: use,
                       child: try Child(exe, env: env, stdin: input(use)))
    }

    public final class Running {
        let delegate: Delegate
        let exe: String
        let env: [String: String]
        let input: (CNIVersion) -> [UInt8]
        let version: CNIVersion
        var child: Child?

        init(delegate: Delegate, exe: String, env: [String: String], input: @escaping (CNIVersion) -> [UInt8],
             version: CNIVersion, child: Child) {
            self.delegate = delegate; self.exe = exe; self.env = env; self.input = input
            self.version = version; self.child = child
        }

        deinit { _ = child?.wait() }

        /// Waits for the delegate. A refusal of our version (code 1) is answered by asking the
        /// delegate's versions and running it again with the newest it has below ours: Debian's
        /// reference plugins stop at 1.0.0.
        public func finish() throws -> [UInt8] {
            guard let c = child else { return [] }
            child = nil
            let first = c.wait()
            if first.status == 0 { return first.stdout }
            let err = Delegate.error(first)
            guard err.code == 1, let versions = delegate.askVersions(exe, env: env),
                  let lower = versions.filter({ $0 < version }).max() else { throw DelegateError.failed(err) }
            delegate.remember(exe, versions)
            let second = try Child(exe, env: env, stdin: input(lower)).wait()
            if second.status == 0 { return second.stdout }
            throw DelegateError.failed(Delegate.error(second))
        }
    }

    /// The versions the delegate speaks, from the cache or by asking it (VERSION); nil when
    /// it does not say.
    public func versions(environment: [String: String]) throws -> [CNIVersion]? {
        let exe = try executable()
        if let known = knownVersions(exe) { return known }
        guard let asked = askVersions(exe, env: environment) else { return nil }
        remember(exe, asked)
        return asked
    }

    func askVersions(_ exe: String, env: [String: String]) -> [CNIVersion]? {
        var e = env
        e["CNI_COMMAND"] = "VERSION"
        guard let out = try? Child(exe, env: e, stdin: Array("{\"cniVersion\":\"0.3.0\"}".utf8)).wait(),
              out.status == 0 else { return nil }
        struct V: Decodable { var supportedVersions: [String] }
        return (try? JSON.decode(V.self, from: out.stdout))?.supportedVersions.compactMap(CNIVersion.init)
    }

    /// The cache entry names the binary by path, inode, size and mtime: an upgraded plugin is
    /// asked again.
    func cacheKey(_ exe: String) -> String? {
        var st = stat()
        guard stat(exe, &st) == 0 else { return nil }
        let id = "\(exe)|\(st.st_ino)|\(st.st_size)|\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
        return cacheDir + "/" + String(fnv1a(id.utf8), radix: 16)
    }

    func knownVersions(_ exe: String) -> [CNIVersion]? {
        guard let k = cacheKey(exe) else { return nil }
        let fd = open(k, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 256)
        let n = read(fd, &buf, buf.count)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n], as: UTF8.self).split(separator: " ").compactMap { CNIVersion(rawValue: String($0)) }
    }

    func remember(_ exe: String, _ versions: [CNIVersion]) {
        guard let k = cacheKey(exe) else { return }
        mkdir(cacheDir, 0o755)
        let tmp = k + ".\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        let text = Array(versions.map(\.rawValue).joined(separator: " ").utf8)
        _ = write(fd, text, text.count)
        close(fd)
        rename(tmp, k)
    }

    static func error(_ r: Child.Exit) -> CNIError { r.cniError(prefix: "IPAM", name: "IPAM plugin") }
}

/// A delegate that is not there, or that failed: then its own error, to pass on as it is.
public enum DelegateError: Error, CustomStringConvertible, Sendable {
    case notFound(String)
    case failed(CNIError)
    public var description: String {
        switch self {
        case .notFound(let m): m
        case .failed(let e): e.description
        }
    }
}

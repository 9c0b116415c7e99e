import FoundationEssentials
import CNIProtocol
import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

/// Runs a delegated CNI plugin (IPAM) the way libcni's invoke package does: found in CNI_PATH,
/// same environment but for CNI_COMMAND, netconf on stdin, result or error JSON on stdout.
/// vfwire writes no IPAM of its own: host-local, static and dhcp are the reference plugins.
public struct Delegate: Sendable {
    public let type: String
    public let paths: [String]

    public init(type: String, paths: [String]) { self.type = type; self.paths = paths }

    public func executable() throws(VFWireError) -> String {
        for dir in paths {
            let p = dir + "/" + type
            if access(p, X_OK) == 0 { return p }
        }
        throw .invalidEnvironment("IPAM plugin \(type) not found in CNI_PATH (\(paths.joined(separator: ":")))")
    }

    /// Runs `command` and returns stdout. The config version is lowered to one the delegate
    /// speaks when it refuses ours: Debian's reference plugins stop at 1.0.0.
    public func run(_ command: CNICommand, input: (CNIVersion) -> [UInt8], version: CNIVersion,
                    environment: [String: String]) throws(VFWireError) -> [UInt8] {
        let exe = try executable()
        var env = environment
        env["CNI_COMMAND"] = command.rawValue
        let first = try spawn(exe, env: env, stdin: input(version))
        if first.status == 0 { return first.stdout }
        let err = Self.error(first)
        guard case .delegate(1, _, _) = err, let lower = try negotiate(exe, env: env, below: version) else { throw err }
        let second = try spawn(exe, env: env, stdin: input(lower))
        if second.status == 0 { return second.stdout }
        throw Self.error(second)
    }

    /// The newest version the delegate supports that is older than `version`.
    func negotiate(_ exe: String, env: [String: String], below version: CNIVersion) throws(VFWireError) -> CNIVersion? {
        var e = env
        e["CNI_COMMAND"] = "VERSION"
        let out = try spawn(exe, env: e, stdin: Array("{\"cniVersion\":\"0.3.0\"}".utf8))
        struct V: Decodable { var supportedVersions: [String] }
        guard out.status == 0, let v = try? JSONDecoder().decode(V.self, from: Data(out.stdout)) else { return nil }
        return v.supportedVersions.compactMap(CNIVersion.init).filter { $0 < version }.max()
    }

    public static func error(_ r: Spawned) -> VFWireError {
        if let e = try? JSONDecoder().decode(CNIError.self, from: Data(r.stdout)) {
            return .delegate(code: e.code, msg: "IPAM: \(e.msg)", details: e.details ?? "")
        }
        let text = String(decoding: r.stdout + r.stderr, as: UTF8.self)
        return .delegate(code: 999, msg: "IPAM plugin failed with exit status \(r.status)", details: text)
    }

    public struct Spawned: Sendable {
        public var status: Int32
        public var stdout: [UInt8]
        public var stderr: [UInt8]
    }

    /// posix_spawn with pipes: no fork of a large address space, no shell.
    public func spawn(_ exe: String, env: [String: String], stdin: [UInt8]) throws(VFWireError) -> Spawned {
        var inPipe: [Int32] = [0, 0], outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe(&inPipe) == 0, pipe(&outPipe) == 0, pipe(&errPipe) == 0 else {
            throw .io("cannot create pipes for \(type): \(String(cString: strerror(errno)))")
        }
        // Only the dup2'd copies may reach the child; dup2 clears FD_CLOEXEC on those.
        for fd in inPipe + outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)

        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(exe), nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, exe, &actions, nil, argv, envp)
        close(inPipe[0]); close(outPipe[1]); close(errPipe[1])
        guard rc == 0 else {
            close(inPipe[1]); close(outPipe[0]); close(errPipe[0])
            throw .io("cannot run \(exe): \(String(cString: strerror(rc)))")
        }
        // Netconfs are far below the pipe buffer, so writing all before reading cannot deadlock;
        // a delegate that exits early gives EPIPE, which SIGPIPE must not turn into our death.
        signal(SIGPIPE, SIG_IGN)
        var off = 0
        while off < stdin.count {
            let n = stdin[off...].withUnsafeBytes { write(inPipe[1], $0.baseAddress, $0.count) }
            if n <= 0 { break }
            off += n
        }
        close(inPipe[1])
        let out = drain(outPipe[0])
        let err = drain(errPipe[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Spawned(status: exit, stdout: out, stderr: err)
    }

    private func drain(_ fd: Int32) -> [UInt8] {
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = read(fd, &buf, buf.count)
            if n > 0 { out.append(contentsOf: buf[0..<n]); continue }
            if n < 0 && errno == EINTR { continue }
            return out
        }
    }
}

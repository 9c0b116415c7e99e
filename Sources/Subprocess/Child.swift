import CNIProtocol
import JSON
#if canImport(Glibc)
import Glibc
#endif

/// A child process, started with posix_spawn (no fork of a large address space, no shell).
/// A CNI plugin gets its netconf written to its stdin at once and its stdout read when it is
/// waited for; a tool (ip, podman) reads nothing, and its stderr goes to a file.
public final class Child {
    let pid: pid_t
    let out: Int32?

    public struct Exit: Sendable {
        /// The exit code, or 128 + the signal that ended it.
        public var status: Int32
        /// What waitpid reported, undecoded.
        public var waitStatus: Int32
        public var stdout: [UInt8]
    }

    /// Runs the CNI plugin at `exe` with exactly `env`.
    public convenience init(_ exe: String, env: [String: String], stdin: [UInt8]) throws(SpawnError) {
        try self.init(argv: [exe], env: env, stdin: stdin, stderrFile: nil)
    }

    /// Runs a tool found in PATH, with this process's environment, stdin and stdout on
    /// /dev/null and stderr in `stderrFile`. No pipe, and no descriptor of ours, reaches it:
    /// `podman run -d` leaves conmon behind holding whatever podman inherited, and a
    /// descriptor we inherited without FD_CLOEXEC (a test runner's, a shell's) would keep our
    /// own caller waiting for the container.
    /// `stdoutFile`, when given, takes its stdout instead of /dev/null, for a tool whose answer
    /// is what it prints (`podman inspect`).
    public convenience init(tool argv: [String], stdoutFile: String? = nil, stderrFile: String) throws(SpawnError) {
        try self.init(argv: argv, env: nil, stdin: nil, stdoutFile: stdoutFile, stderrFile: stderrFile)
    }

    private init(argv args: [String], env: [String: String]?, stdin: [UInt8]?, stdoutFile: String? = nil, stderrFile: String?) throws(SpawnError) {
        let exe = args[0]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var inPipe: [Int32] = [-1, -1], outPipe: [Int32] = [-1, -1]
        if stdin != nil {
            guard pipe(&inPipe) == 0 else { throw .failed("cannot create a pipe for \(exe): \(String(cString: strerror(errno)))") }
            guard pipe(&outPipe) == 0 else {
                close(inPipe[0]); close(inPipe[1])
                throw .failed("cannot create a pipe for \(exe): \(String(cString: strerror(errno)))")
            }
            // Only the dup2'd copies may reach the child; dup2 clears FD_CLOEXEC on those.
            for fd in inPipe + outPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
            posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, stdoutFile ?? "/dev/null", stdoutFile == nil ? O_WRONLY : O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        }
        if let stderrFile {
            posix_spawn_file_actions_addopen(&actions, 2, stderrFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            for fd in Self.openDescriptors() where fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
        }
        let argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?]? = env.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { argv.forEach { free($0) }; envp?.forEach { free($0) } }
        var pid: pid_t = 0
        let rc: Int32
        if let envp { rc = posix_spawnp(&pid, exe, &actions, nil, argv, envp) } else {
            rc = posix_spawnp(&pid, exe, &actions, nil, argv, environ)
        }
        guard let stdin else {
            guard rc == 0 else { throw .failed("cannot run \(exe): \(String(cString: strerror(rc)))") }
            self.pid = pid
            out = nil
            return
        }
        close(inPipe[0]); close(outPipe[1])
        guard rc == 0 else {
            close(inPipe[1]); close(outPipe[0])
            throw .failed("cannot run \(exe): \(String(cString: strerror(rc)))")
        }
        // Netconfs are far below the pipe buffer, so this cannot block on a child that has
        // not read yet; one that exits early gives EPIPE, which must not kill us.
        signal(SIGPIPE, SIG_IGN)
        var off = 0
        while off < stdin.count {
            let n = stdin[off...].withUnsafeBytes { write(inPipe[1], $0.baseAddress, $0.count) }
            if n <= 0 { break }
            off += n
        }
        close(inPipe[1])
        self.pid = pid
        out = outPipe[0]
    }

    /// This process's open descriptors.
    static func openDescriptors() -> [Int32] {
        guard let d = opendir("/proc/self/fd") else { return [] }
        defer { closedir(d) }
        var out: [Int32] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
            if let fd = Int32(name), fd != dirfd(d) { out.append(fd) }
        }
        return out
    }

    /// The plugin's executable: the first of `dirs` that has `name`, as libcni's FindInPath.
    public static func find(_ name: String, in dirs: [String]) -> String? {
        dirs.lazy.map { $0 + "/" + name }.first { access($0, X_OK) == 0 }
    }

    private var exit: Exit?

    public func wait() -> Exit {
        if let exit { return exit }
        var bytes: [UInt8] = []
        if let out {
            var buf = [UInt8](repeating: 0, count: 16384)
            while true {
                let n = read(out, &buf, buf.count)
                if n > 0 { bytes.append(contentsOf: buf[0..<n]); continue }
                if n < 0 && errno == EINTR { continue }
                break
            }
            close(out)
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let e = Exit(status: code, waitStatus: status, stdout: bytes)
        exit = e
        return e
    }
}

/// A process that could not be started.
public enum SpawnError: Error, CustomStringConvertible, Sendable {
    case failed(String)
    public var description: String { switch self { case .failed(let m): m } }
}

extension Child.Exit {
    /// A failed plugin's error as it printed it, its message after `prefix`, or what can be
    /// said of `name` when it printed none.
    public func cniError(prefix: String, name: String) -> CNIError {
        if let e = try? JSON.decode(CNIError.self, from: stdout) {
            return CNIError(code: e.code, msg: "\(prefix): \(e.msg)", details: e.details)
        }
        return CNIError(code: 999, msg: "\(name) failed with exit status \(status)",
                        details: String(decoding: stdout, as: UTF8.self))
    }
}

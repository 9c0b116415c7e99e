import FoundationEssentials
import CNIProtocol
#if canImport(Glibc)
import Glibc
#endif

/// A CNI plugin process: posix_spawn (no fork of a large address space, no shell), the
/// netconf written to its stdin at once, its stdout read when it is waited for.
public final class Child {
    let pid: pid_t
    let out: Int32

    public struct Exit: Sendable {
        public var status: Int32
        public var stdout: [UInt8]
    }

    public init(_ exe: String, env: [String: String], stdin: [UInt8]) throws(SpawnError) {
        var inPipe: [Int32] = [0, 0], outPipe: [Int32] = [0, 0]
        guard pipe(&inPipe) == 0 else { throw .failed("cannot create a pipe for \(exe): \(String(cString: strerror(errno)))") }
        guard pipe(&outPipe) == 0 else {
            close(inPipe[0]); close(inPipe[1])
            throw .failed("cannot create a pipe for \(exe): \(String(cString: strerror(errno)))")
        }
        // Only the dup2'd copies may reach the child; dup2 clears FD_CLOEXEC on those.
        for fd in inPipe + outPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(exe), nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, exe, &actions, nil, argv, envp)
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

    private var exit: Exit?

    public func wait() -> Exit {
        if let exit { return exit }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = read(out, &buf, buf.count)
            if n > 0 { bytes.append(contentsOf: buf[0..<n]); continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        close(out)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let e = Exit(status: code, stdout: bytes)
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
        if let e = try? JSONDecoder().decode(CNIError.self, from: Data(stdout)) {
            return CNIError(code: e.code, msg: "\(prefix): \(e.msg)", details: e.details)
        }
        return CNIError(code: 999, msg: "\(name) failed with exit status \(status)",
                        details: String(decoding: stdout, as: UTF8.self))
    }
}

import CProbe
#if canImport(Glibc)
import Glibc
#endif

/// PNG CDFs through the researchers' usual matplotlib, run by /usr/bin/python3 (Debian's
/// python3-matplotlib); SVG needs none of it.
public enum Matplotlib {
    static let script = """
    import json, sys
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    out, runs = sys.argv[1], json.load(sys.stdin)
    fig, ax = plt.subplots(figsize=(7.2, 4.4))
    for r in runs:
        total = sum(c for _, c in r["buckets"]) or 1
        xs, ys, seen = [], [], 0
        for v, c in r["buckets"]:
            seen += c
            xs.append(v); ys.append(seen / total)
        ax.step(xs, ys, where="post", label="%s (%d/%d)" % (r["label"], r["received"], r["sent"]))
    ax.set_xscale("log"); ax.set_xlabel("round-trip time (µs)"); ax.set_ylabel("cumulative fraction")
    ax.grid(True, which="both", alpha=0.3); ax.legend()
    fig.savefig(out, dpi=120, bbox_inches="tight")
    """

    public static func png(_ runs: [HistogramJSON], to file: String) throws {
        let input = "[" + runs.map { r in
            "{\"label\":\(HistogramFiles.quoted(r.label)),\"sent\":\(r.sent),\"received\":\(r.received),\"buckets\":["
                + r.buckets.map { "[\($0[0]),\($0[1])]" }.joined(separator: ",") + "]}"
        }.joined(separator: ",") + "]"
        let (status, output) = try capture(["/usr/bin/python3", "-c", script, file], stdin: Array(input.utf8))
        guard status == 0 else { throw ProbeError.failed("matplotlib (/usr/bin/python3, python3-matplotlib) could not draw \(file): \(output)") }
    }
}

/// Runs `args` with a fixed environment and returns its exit status with stdout and stderr.
func capture(_ args: [String], stdin input: [UInt8] = []) throws -> (Int32, String) {
    var out: [Int32] = [-1, -1], inp: [Int32] = [-1, -1]
    guard vfw_probe_pipe(&out) == 0 else { throw ProbeError.failed("pipe: \(lastError())") }
    guard vfw_probe_pipe(&inp) == 0 else { close(out[0]); close(out[1]); throw ProbeError.failed("pipe: \(lastError())") }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, inp[0], 0)
    posix_spawn_file_actions_adddup2(&actions, out[1], 1)
    posix_spawn_file_actions_adddup2(&actions, out[1], 2)
    let argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var env: [UnsafeMutablePointer<CChar>?] = [strdup("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), strdup("LC_ALL=C"), strdup("HOME=/tmp"), nil]
    defer { env.forEach { free($0) } }
    var pid: pid_t = 0
    let rc = posix_spawnp(&pid, args[0], &actions, nil, argv, &env)
    close(out[1]); close(inp[0])
    guard rc == 0 else { close(out[0]); close(inp[1]); throw ProbeError.failed("cannot run \(args[0]): \(String(cString: strerror(rc)))") }
    // The script reads all of stdin before it writes a byte, so writing first cannot deadlock.
    signal(SIGPIPE, SIG_IGN)
    _ = input.withUnsafeBytes { write(inp[1], $0.baseAddress, $0.count) }
    close(inp[1])
    var bytes: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = read(out[0], &buf, buf.count)
        if n <= 0 { break }
        bytes += buf[0..<n]
    }
    close(out[0])
    var status: Int32 = 0
    _ = waitpid(pid, &status, 0)
    return ((status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f), String(decoding: bytes, as: UTF8.self))
}

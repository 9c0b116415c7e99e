import Foundation
import XCTest

/// Runs a command and returns its exit status and output.
/// Not for commands that leave a daemon behind (podman run -d, dockerd, containerd, runc run -d):
/// the daemon inherits the pipes, so this would block until it exits. RuntimeSupport.swift has the
/// ways around it: `detached` and `Background`.
@discardableResult
func sh(_ args: [String], stdin: String = "", env: [String: String]? = nil) -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: args[0].hasPrefix("/") ? args[0] : "/usr/bin/env")
    p.arguments = args[0].hasPrefix("/") ? Array(args.dropFirst()) : args
    if let env { p.environment = env }
    let i = Pipe(), o = Pipe(), e = Pipe()
    p.standardInput = i; p.standardOutput = o; p.standardError = e
    try! p.run()
    i.fileHandleForWriting.write(stdin.data(using: .utf8)!)
    try? i.fileHandleForWriting.close()
    let outData = o.fileHandleForReading.readDataToEndOfFile()
    let errData = e.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// The directory the test binaries and the products were built into.
let buildDir: String = {
    URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
}()
let vfwire = buildDir + "/vfwire"
let vfwirectl = buildDir + "/vfwirectl"
/// Where Debian's containernetworking-plugins put the reference plugins.
let referencePlugins = "/usr/lib/cni"
/// The repository root, for cni-conf/ examples.
let repoRoot: String = {
    var u = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { u.deleteLastPathComponent() }
    return u.path
}()

func randomSuffix(_ n: Int = 5) -> String {
    String((0..<n).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement()! })
}

/// Something a test needs could not be set up. Thrown, it fails the test with this message
/// (XCTest records a thrown error as a failure): CI installs everything the suite needs, so a
/// missing capability is a failure, never a skip.
struct SetupFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// An emulated PF for one test, removed afterwards.
final class SimPF {
    let name: String
    let pci: String
    /// `prefix` keeps one test file's PFs apart from every other's.
    init(vfs: Int, prefix: String = "vt") throws {
        name = prefix + randomSuffix()
        let r = sh([vfwirectl, "sim", "create", name, "--vfs", String(vfs)])
        guard r.status == 0 else {
            let said = (r.out + r.err).trimmingCharacters(in: .whitespacesAndNewlines)
            throw SetupFailure("vfwirectl sim create \(name) --vfs \(vfs) exited \(r.status): \(said)")
        }
        pci = String(r.out.split(separator: " ")[1].trimmingCharacters(in: .whitespacesAndNewlines))
    }
    deinit { sh([vfwirectl, "sim", "destroy", name, "--force"]) }

    /// `vfwirectl vf show` rows: VF index -> (pci, netdev, table fields).
    func table() -> [Int: [String: String]] {
        var out: [Int: [String: String]] = [:]
        for line in sh([vfwirectl, "vf", "show", name]).out.split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ").map(String.init)
            var row = ["pci": f[2], "netdev": f[3]]
            var i = 4
            while i + 1 < f.count { row[f[i]] = f[i + 1]; i += 2 }
            out[Int(f[1])!] = row
        }
        return out
    }

    func vfPCI(_ i: Int) -> String { table()[i]!["pci"]! }
}

/// A network namespace for one test, removed afterwards.
final class Netns {
    let name: String
    var path: String { "/run/netns/" + name }
    init(prefix: String = "vft-") {
        name = prefix + randomSuffix(8)
        let r = sh(["ip", "netns", "add", name])
        if r.status != 0 { XCTFail("ip netns add \(name): \(r.err)") }
    }
    deinit { sh(["ip", "netns", "del", name]) }
    func exec(_ args: [String]) -> (status: Int32, out: String, err: String) {
        sh(["ip", "netns", "exec", name] + args)
    }
    /// `ip -j link show` of one interface inside, or nil.
    func link(_ ifname: String) -> [String: Any]? {
        let r = exec(["ip", "-j", "-d", "addr", "show", "dev", ifname])
        guard r.status == 0 else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]])?.first
    }
}

struct CNIRun {
    var status: Int32
    var out: String
    var err: String
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]) ?? [:] }
    var code: Int? { json["code"] as? Int }
}

/// Container IDs are unique to this run, so attachments left by an earlier, crashed run
/// (their namespaces still alive) never collide with this run's.
let runID = randomSuffix(6)
func cid(_ name: String) -> String { "\(runID)-\(name)" }

/// Invokes the plugin as a runtime would.
func cni(_ command: String, _ conf: String, containerID: String = "c1", netns: String?, ifname: String = "net1",
         args: String? = nil, path: String = referencePlugins, binary: String = vfwire) -> CNIRun {
    var env = ["CNI_COMMAND": command, "CNI_CONTAINERID": cid(containerID), "CNI_IFNAME": ifname, "CNI_PATH": path,
               "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
    if let netns { env["CNI_NETNS"] = netns }
    if let args { env["CNI_ARGS"] = args }
    let r = sh([binary], stdin: conf, env: env)
    return CNIRun(status: r.status, out: r.out, err: r.err)
}

func json(_ o: [String: Any]) -> String {
    String(decoding: try! JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self)
}

/// Everything vfwire must leave as it found it: the PF's host links (name, MAC, MTU, flags,
/// master, qdisc), its VF table and vfwire's allocation records for it. Ifindexes are left out:
/// a VF netdev the emulated driver had to recreate gets a new one, as on hardware.
func hostSnapshot(_ pf: SimPF) -> String {
    let out = sh(["ip", "-j", "link", "show"]).out
    let links = (try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]]) ?? []
    let mine = links.filter { ($0["ifname"] as? String ?? "").hasPrefix(pf.name) }.map { l -> String in
        let flags = (l["flags"] as? [String] ?? []).filter { $0 != "LOWER_UP" && $0 != "NO-CARRIER" && $0 != "M-DOWN" }
        return "\(l["ifname"] ?? "") \(l["address"] ?? "") mtu \(l["mtu"] ?? "") \(flags) master \(l["master"] ?? "-") qdisc \(l["qdisc"] ?? "")"
    }.sorted()
    let records = (try? FileManager.default.contentsOfDirectory(atPath: "/run/vfwire/alloc")) ?? []
    let vfs = Set(pf.table().values.compactMap { $0["pci"] })
    let held = records.filter { vfs.contains($0) }.sorted()
    return (mine + pf.table().sorted { $0.key < $1.key }.map { "vf \($0.key): \($0.value.sorted { $0.key < $1.key })" }
        + ["records: \(held)"]).joined(separator: "\n")
}

/// The PF's host state once it matches `want`, or after 5 s: runtimes tear networks down from
/// processes of their own, and a dying namespace gives its VF back asynchronously.
func settledSnapshot(_ pf: SimPF, _ want: String) -> String {
    var now = hostSnapshot(pf)
    let deadline = Date().addingTimeInterval(5)
    while now != want && Date() < deadline {
        usleep(100_000)
        now = hostSnapshot(pf)
    }
    return now
}

import EmulatedNIC
import FileSystem
import Netconf
import FoundationEssentials
import PFDriver
import Sandbox
import Sysfs
import Topology
import VFState
import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

/// Real NICs first, so a real device wins over an emulated one.
let nics = NICs([KernelNICs(), EmulatedNICs()])

let usage = """
usage: vfwirectl sim create NAME --vfs N   make an emulated SR-IOV PF named NAME with N VFs
       vfwirectl sim destroy NAME [--force]  remove it, and every VF netdev it made (--force: even
                                           with VFs attached to containers)
       vfwirectl sim list                  list emulated PFs and their cables
       vfwirectl sim show NAME             one emulated PF, its cable and the VLANs the cable carries now
       vfwirectl sim cable PF1 PF2         cable two emulated PFs back to back: a VLAN on one meets
                                           the same VLAN on the other, as through a trunk cable
       vfwirectl sim uncable PF1 PF2       remove that cable
       vfwirectl ls [--json]               every VF of every PF: free, attached, stale (namespace
                                           gone), quarantined (corrupt record) or other, and who holds it
       vfwirectl gc [--dry-run]            release every stale attachment of every network (its
                                           namespace is gone), IPAM lease included
       vfwirectl vf show PF [--json]       print a PF's VF table (emulated or real)
       vfwirectl vf set PF VF KEY=VALUE... set VF table fields through the PF driver vfwire uses;
                                           keys as in a netconf: mac vlan vlanQoS vlanProto spoofchk
                                           trust link_state min_tx_rate max_tx_rate
       vfwirectl topo plan|up|down|inspect|graph FILE   testbed topologies (vfwirectl topo for help)
       vfwirectl iommu check PCI           is PCI's IOMMU group usable by vfio? (what vfio mode and
                                           the OCI hook check before passing a VF through)
       vfwirectl help | --help             this text;  vfwirectl --version   the version

"""

/// A command line that names what is not there.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

func fail(_ msg: String, code: Int32 = 1) -> Never {
    FS.write(fd: 2, "vfwirectl: \(msg)\n")
    exit(code)
}

func pfName(_ name: String) throws -> InterfaceName {
    guard let n = InterfaceName(name) else { throw UsageError("'\(name)' is not an interface name") }
    return n
}

/// JSON for scripts: keys sorted, so output diffs cleanly and field order never matters.
func printJSON<T: Encodable>(_ value: T) throws {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    FS.write(fd: 1, String(decoding: try e.encode(value), as: UTF8.self) + "\n")
}

/// One VF table row of `vf show --json`; the keys are the netconf's.
struct TableRow: Encodable {
    var vf: Int
    var pci: String?
    var netdev: String?
    var mac: String
    var vlan: Int
    var vlanQoS: Int
    var vlanProto: String
    var spoofchk: String
    var trust: String
    var min_tx_rate: UInt32
    var max_tx_rate: UInt32
    var link_state: String
}

/// One line per VF: index, PCI address, host netdev ("-" when it is elsewhere), then the table.
func show(_ name: String, json: Bool) throws {
    let n = try pfName(name)
    let (driver, count) = try nics.open(netdev: n)
    try driver.refresh(vf: nil)
    let pf = nics.pf(netdev: n)
    let fns = pf?.virtfns() ?? [:]
    let rows = try (0..<count).map { i in
        let c = try driver.config(vf: i)
        return TableRow(vf: i, pci: fns[i]?.description, netdev: fns[i]?.netdevs.first, mac: c.mac.description, vlan: Int(c.vlan.id),
                        vlanQoS: Int(c.qos), vlanProto: c.vlanProto.rawValue, spoofchk: c.spoofchk ? "on" : "off",
                        trust: c.trust ? "on" : "off", min_tx_rate: c.minTxRate, max_tx_rate: c.maxTxRate,
                        link_state: c.linkState.rawValue)
    }
    if json {
        struct Table: Encodable { var pf: String; var pci: String?; var driver: String; var vfs: [TableRow] }
        return try printJSON(Table(pf: name, pci: pf?.description, driver: driver.driverName, vfs: rows))
    }
    FS.write(fd: 1, "PF \(name) \(pf?.description ?? "-") driver \(driver.driverName)\n")
    for r in rows {
        FS.write(fd: 1, "  vf \(r.vf) \(r.pci ?? "-") \(r.netdev ?? "-") mac \(r.mac) vlan \(r.vlan) qos \(r.vlanQoS) proto \(r.vlanProto) "
            + "spoofchk \(r.spoofchk) trust \(r.trust) min_tx_rate \(r.min_tx_rate) max_tx_rate \(r.max_tx_rate) link-state \(r.link_state)\n")
    }
}

/// One row of `vfwirectl ls`: a VF, its state, and who holds it. The JSON keys are documented
/// in the README and stable.
struct VFRow: Encodable {
    struct Owner: Encodable { var network: String; var containerID: String; var ifname: String; var netns: String? }
    var pf: String
    var vf: Int
    var pci: String
    var netdev: String?
    var state: String
    var owner: Owner?
    var vlan: Int?
    var mac: String?

    var line: String {
        let who = owner.map { "\($0.network)/\($0.containerID)/\($0.ifname) \($0.netns ?? "-")" } ?? "-"
        return "\(pf) \(vf) \(pci) \(netdev ?? "-") \(state) \(who) vlan \(vlan.map(String.init) ?? "-") mac \(mac ?? "-")"
    }
}

func rows() -> [VFRow] {
    let state = StateDir.default
    return nics.pfs().flatMap { (name, pf) -> [VFRow] in
        let driver = try? nics.open(pf)
        try? driver?.refresh(vf: nil)
        return pf.virtfns().sorted { $0.key < $1.key }.map { (i, fn) in
            let table = try? driver?.config(vf: i)
            var row = VFRow(pf: name.value, vf: i, pci: fn.address.description, netdev: fn.netdevs.first, state: "free",
                            vlan: table.map { Int($0.vlan.id) }, mac: table.map { $0.mac.description })
            if state.isQuarantined(fn.address) {
                row.state = "quarantined"
            } else if let r = try? state.record(of: fn.address) {
                row.state = r.netnsAlive ? "attached" : "stale"
                row.owner = .init(network: r.key.network, containerID: r.key.containerID, ifname: r.key.ifname, netns: r.netns)
            } else if state.hasRecord(fn.address) {
                row.state = "quarantined"
            } else if fn.netdevs.isEmpty {
                // No record of ours and no host netdev: on vfio-pci for a VM, or taken by another tool.
                row.state = "other"
            }
            return row
        }
    }
}

/// An emulated PF as `sim list` prints it: name, PCI address, VF count and its cable.
func simLine(_ name: String) throws -> String {
    let n = try pfName(name)
    guard let pf = EmulatedNIC.sysfs.pf(netdev: n) else { throw UsageError("no emulated PF named \(name) (vfwirectl sim list shows them)") }
    let cable = try EmulatedNIC.cable(of: name).map { " cabled to \($0.peer)" } ?? ""
    return "\(name) \(pf) \(pf.virtfns().count) VFs\(cable)"
}

func set(_ name: String, _ vfText: String, _ words: [String]) throws {
    let (driver, count) = try nics.open(netdev: try pfName(name))
    guard let vf = Int(vfText), (0..<count).contains(vf) else { throw UsageError("VF \(vfText) is not one of 0..\(count - 1)") }
    let request = try VFRequest(words: words)
    for s in request.change(from: try driver.config(vf: vf)).settings { try driver.apply(vf: vf, s.change) }
}

/// The plugin: beside vfwirectl (a build tree), else where install.sh puts it. Releasing is
/// the plugin's DEL, so vfwirectl runs it rather than doing the same work a second way.
func pluginPath() -> String? {
    var buf = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buf, buf.count - 1)
    let here = n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    let dir = here.split(separator: "/").dropLast().joined(separator: "/")
    return ["/" + dir + "/vfwire", "/opt/cni/bin/vfwire"].first { access($0, X_OK) == 0 }
}

/// Runs the plugin's DEL for `r` as the runtime would have; returns the exit status and what it
/// printed (an error's JSON).
func pluginDEL(_ exe: String, _ r: AllocationRecord) throws -> (Int32, String) {
    let conf = r.ipam?.netconf ?? "{\"cniVersion\":\"1.1.0\",\"name\":\"\(r.key.network)\",\"type\":\"vfwire\"}"
    let env = ["CNI_COMMAND=DEL", "CNI_CONTAINERID=\(r.key.containerID)", "CNI_IFNAME=\(r.key.ifname)",
               "CNI_PATH=\((r.ipam?.paths ?? []).joined(separator: ":"))", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
    var input: [Int32] = [0, 0], output: [Int32] = [0, 0]
    guard pipe(&input) == 0, pipe(&output) == 0 else { throw UsageError("cannot make a pipe: \(FS.errnoText())") }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, input[0], 0)
    posix_spawn_file_actions_adddup2(&actions, output[1], 1)
    for fd in input + output { posix_spawn_file_actions_addclose(&actions, fd) }
    var pid: pid_t = 0
    let argv: [UnsafeMutablePointer<CChar>?] = [strdup(exe), nil]
    let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
    defer { (argv + envp).forEach { free($0) } }
    let rc = posix_spawn(&pid, exe, &actions, nil, argv, envp)
    close(input[0]); close(output[1])
    guard rc == 0 else { close(input[1]); close(output[0]); throw UsageError("cannot run \(exe): \(FS.errnoText(rc))") }
    FS.write(fd: input[1], conf)
    close(input[1])
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while case let n = read(output[0], &buf, buf.count), n > 0 { out += buf[0..<n] }
    close(output[0])
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return ((status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f), String(decoding: out, as: UTF8.self))
}

/// Releases every attachment whose namespace is gone: what a crash, or a runtime that never
/// sends DEL (`ctr run -d`), leaves.
func gc(dryRun: Bool) throws {
    let stale = StateDir.default.allRecords().filter { !$0.netnsAlive }.sorted { $0.vf.description < $1.vf.description }
    guard !stale.isEmpty else { return }
    guard dryRun || pluginPath() != nil else { throw UsageError("the vfwire plugin is neither beside vfwirectl nor in /opt/cni/bin: install it") }
    var failed = 0
    for r in stale {
        let what = "VF \(r.vf) of \(r.key.network)/\(r.key.containerID)/\(r.key.ifname)\(r.ipam.map { " and its \($0.type) lease" } ?? "")"
        if dryRun { FS.write(fd: 1, "would release \(what)\n"); continue }
        let (status, out) = try pluginDEL(pluginPath()!, r)
        if status == 0 { FS.write(fd: 1, "released \(what)\n") } else {
            failed += 1
            FS.write(fd: 2, "vfwirectl: could not release \(what): \(out.isEmpty ? "exit \(status)" : out)\n")
        }
    }
    if failed > 0 { exit(1) }
}

if let why = Sandbox.lockDown(.ctl) { FS.write(fd: 2, "vfwirectl: no seccomp sandbox: \(why)\n") }
let args = Array(CommandLine.arguments.dropFirst())
do {
    switch (args.first, args.dropFirst().first) {
    case ("sim", "create"):
        guard args.count == 5, args[3] == "--vfs", let n = Int(args[4]) else { fail("usage: vfwirectl sim create NAME --vfs N", code: 2) }
        let pf = try EmulatedNIC.create(name: args[2], vfs: n)
        FS.write(fd: 1, "\(args[2]) \(pf)\n")
    case ("sim", "destroy"):
        let force = args.count == 4 && args[3] == "--force"
        guard args.count == 3 || force else { fail("usage: vfwirectl sim destroy NAME [--force]", code: 2) }
        let attached = rows().filter { $0.pf == args[2] && $0.state == "attached" }
        if !force && !attached.isEmpty {
            fail("\(args[2]) has VFs attached to containers (" + attached.map(\.line).joined(separator: "; ")
                 + "): DEL them first, or pass --force to take the interfaces from the containers")
        }
        // A half-made PF has no netdev entry to find its cable by; destroy removes it all the same.
        if !force, let c = (try? EmulatedNIC.cable(of: args[2])) ?? nil {
            fail("\(args[2]) is cabled to \(c.peer): vfwirectl sim uncable \(args[2]) \(c.peer) first, or pass --force to uncable it")
        }
        // Its VFs vanish with it; so must vfwire's claims on their addresses.
        if let n = InterfaceName(args[2]), let pf = EmulatedNIC.sysfs.pf(netdev: n) {
            for (_, vf) in pf.virtfns() { StateDir.default.forget(vf.address) }
        }
        try EmulatedNIC.destroy(name: args[2])
    case ("sim", "list"):
        for (name, _) in EmulatedNIC.list() { FS.write(fd: 1, try simLine(name) + "\n") }
    case ("sim", "show"):
        guard args.count == 3 else { fail("usage: vfwirectl sim show NAME", code: 2) }
        FS.write(fd: 1, try simLine(args[2]) + "\n")
        if let c = try EmulatedNIC.cable(of: args[2]) {
            let vlans = EmulatedNIC.cableVLANs(args[2])
            FS.write(fd: 1, "  cable to \(c.peer) (\(c.pci)), carrying VLAN \(vlans.isEmpty ? "none" : vlans.map(\.description).joined(separator: ", "))\n")
        }
    case ("sim", let verb?) where verb == "cable" || verb == "uncable":
        guard args.count == 4 else { fail("usage: vfwirectl sim \(verb) PF1 PF2", code: 2) }
        try verb == "cable" ? EmulatedNIC.cable(args[2], args[3]) : EmulatedNIC.uncable(args[2], args[3])
    case ("vf", "show"):
        let json = args.count == 4 && args[3] == "--json"
        guard args.count == 3 || json else { fail("usage: vfwirectl vf show PF [--json]", code: 2) }
        try show(args[2], json: json)
    case ("ls", _):
        guard args.count == 1 || (args.count == 2 && args[1] == "--json") else { fail("usage: vfwirectl ls [--json]", code: 2) }
        if args.count == 2 {
            struct Listing: Encodable { var vfs: [VFRow] }
            try printJSON(Listing(vfs: rows()))
        } else {
            for r in rows() { FS.write(fd: 1, r.line + "\n") }
        }
    case ("gc", _):
        guard args.count == 1 || (args.count == 2 && args[1] == "--dry-run") else { fail("usage: vfwirectl gc [--dry-run]", code: 2) }
        try gc(dryRun: args.count == 2)
    case ("help", _), ("--help", _), ("-h", _):
        FS.write(fd: 1, usage)
    case ("--version", _), ("version", _):
        FS.write(fd: 1, "vfwirectl \(vfwireVersion)\n")
    case ("vf", "set"):
        guard args.count >= 5 else { fail("usage: vfwirectl vf set PF VF KEY=VALUE...", code: 2) }
        try set(args[2], args[3], Array(args[4...]))
    case ("probe", _), ("netem", _), ("link", _): exit(MeasureCommand.run(args))
    case ("topo", _):
        exit(TopologyCommand.run(Array(args.dropFirst()), nics: nics, vfState: .default))
    case ("iommu", "check"):
        guard args.count == 3, let a = PCIAddress(args[2]) else { fail("usage: vfwirectl iommu check DDDD:BB:DD.F", code: 2) }
        guard let fn = nics.function(a) else { throw UsageError("no PCI device \(a)") }
        let group = try IOMMUGroup.of(fn)
        try group.checkViable()
        FS.write(fd: 1, "IOMMU group \(group.number) (\(group.devicePath)) is viable: "
            + group.members.map { "\($0) (\($0.driver ?? "no driver"))" }.joined(separator: ", ") + "\n")
    default:
        FS.write(fd: 2, usage)
        exit(2)
    }
} catch {
    fail("\(error)")
}

import EmulatedNIC
import FileSystem
import Netconf
import FoundationEssentials
import PFDriver
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
       vfwirectl sim destroy NAME          remove it, and every VF netdev it made
       vfwirectl sim list                  list emulated PFs
       vfwirectl vf show PF                print a PF's VF table (emulated or real)
       vfwirectl vf set PF VF KEY=VALUE... set VF table fields through the PF driver vfwire uses;
                                           keys as in a netconf: mac vlan vlanQoS vlanProto spoofchk
                                           trust link_state min_tx_rate max_tx_rate
       vfwirectl topo plan|up|down|inspect|graph FILE   testbed topologies (vfwirectl topo for help)
       vfwirectl iommu check PCI           is PCI's IOMMU group usable by vfio? (what vfio mode and
                                           the OCI hook check before passing a VF through)

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

/// One line per VF: index, PCI address, host netdev ("-" when it is elsewhere), then the table.
func show(_ name: String) throws {
    let n = try pfName(name)
    let (driver, count) = try nics.open(netdev: n)
    try driver.refresh(vf: nil)
    let pf = nics.pf(netdev: n)
    let fns = pf?.virtfns() ?? [:]
    FS.write(fd: 1, "PF \(name) \(pf?.description ?? "-") driver \(driver.driverName)\n")
    for i in 0..<count {
        let c = try driver.config(vf: i)
        let netdev = fns[i]?.netdevs.first ?? "-"
        FS.write(fd: 1, "  vf \(i) \(fns[i]?.description ?? "-") \(netdev) mac \(c.mac) vlan \(c.vlan) qos \(c.qos) proto \(c.vlanProto.rawValue) "
            + "spoofchk \(c.spoofchk ? "on" : "off") trust \(c.trust ? "on" : "off") "
            + "min_tx_rate \(c.minTxRate) max_tx_rate \(c.maxTxRate) link-state \(c.linkState.rawValue)\n")
    }
}

func set(_ name: String, _ vfText: String, _ words: [String]) throws {
    let (driver, count) = try nics.open(netdev: try pfName(name))
    guard let vf = Int(vfText), (0..<count).contains(vf) else { throw UsageError("VF \(vfText) is not one of 0..\(count - 1)") }
    let request = try VFRequest(words: words)
    for s in request.change(from: try driver.config(vf: vf)).settings { try driver.apply(vf: vf, s.change) }
}

let args = Array(CommandLine.arguments.dropFirst())
do {
    switch (args.first, args.dropFirst().first) {
    case ("sim", "create"):
        guard args.count == 5, args[3] == "--vfs", let n = Int(args[4]) else { fail("usage: vfwirectl sim create NAME --vfs N", code: 2) }
        let pf = try EmulatedNIC.create(name: args[2], vfs: n)
        FS.write(fd: 1, "\(args[2]) \(pf)\n")
    case ("sim", "destroy"):
        guard args.count == 3 else { fail("usage: vfwirectl sim destroy NAME", code: 2) }
        // Its VFs vanish with it; so must vfwire's claims on their addresses.
        if let n = InterfaceName(args[2]), let pf = EmulatedNIC.sysfs.pf(netdev: n) {
            for (_, vf) in pf.virtfns() { StateDir.default.forget(vf.address) }
        }
        try EmulatedNIC.destroy(name: args[2])
    case ("sim", "list"):
        for (name, pf) in EmulatedNIC.list() { FS.write(fd: 1, "\(name) \(pf) \(pf.virtfns().count) VFs\n") }
    case ("vf", "show"):
        guard args.count == 3 else { fail("usage: vfwirectl vf show PF", code: 2) }
        try show(args[2])
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

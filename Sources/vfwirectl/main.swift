import EmulatedNIC
import FoundationEssentials
import PFDriver
import Sysfs
import VFAllocation
import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

let usage = """
usage: vfwirectl sim create NAME --vfs N   make an emulated SR-IOV PF named NAME with N VFs
       vfwirectl sim destroy NAME          remove it, and every VF netdev it made
       vfwirectl sim list                  list emulated PFs
       vfwirectl sim show NAME             print the PF's VF table

"""

func fail(_ msg: String, code: Int32 = 1) -> Never {
    FileHandleLike.stderr("vfwirectl: \(msg)\n")
    exit(code)
}

enum FileHandleLike {
    static func stdout(_ s: String) { _ = s.withCString { write(1, $0, strlen($0)) } }
    static func stderr(_ s: String) { _ = s.withCString { write(2, $0, strlen($0)) } }
}

func show(_ name: String) throws(VFWireError) {
    guard let n = InterfaceName(name), let pf = Sysfs.pf(netdev: n) else { throw .invalidConfig("no PF named \(name)") }
    let driver = try PFDrivers.open(pf)
    try driver.refresh()
    FileHandleLike.stdout("PF \(name) \(pf) driver \(driver.driverName)\n")
    for (i, fn) in pf.virtfns().sorted(by: { $0.key < $1.key }) {
        let c = try driver.config(vf: i)
        let netdev = fn.netdevs.first ?? "-"
        FileHandleLike.stdout("  vf \(i) \(fn) \(netdev) mac \(c.mac) vlan \(c.vlan) qos \(c.qos) proto \(c.vlanProto.rawValue) "
            + "spoofchk \(c.spoofchk ? "on" : "off") trust \(c.trust ? "on" : "off") "
            + "min_tx_rate \(c.minTxRate) max_tx_rate \(c.maxTxRate) link-state \(c.linkState.rawValue)\n")
    }
}

let args = Array(CommandLine.arguments.dropFirst())
do throws(VFWireError) {
    switch (args.first, args.dropFirst().first) {
    case ("sim", "create"):
        guard args.count == 5, args[3] == "--vfs", let n = Int(args[4]) else { fail("usage: vfwirectl sim create NAME --vfs N", code: 2) }
        let pf = try EmulatedNIC.create(name: args[2], vfs: n)
        FileHandleLike.stdout("\(args[2]) \(pf)\n")
    case ("sim", "destroy"):
        guard args.count == 3 else { fail("usage: vfwirectl sim destroy NAME", code: 2) }
        // Its VFs vanish with it; so must vfwire's claims on their addresses.
        if let n = InterfaceName(args[2]), let pf = Sysfs.pf(netdev: n), pf.root == .emulated {
            for (_, vf) in pf.virtfns() { StateDir.default.forget(vf.address) }
        }
        try EmulatedNIC.destroy(name: args[2])
    case ("sim", "list"):
        for (name, pf) in EmulatedNIC.list() { FileHandleLike.stdout("\(name) \(pf) \(pf.virtfns().count) VFs\n") }
    case ("sim", "show"):
        guard args.count == 3 else { fail("usage: vfwirectl sim show NAME", code: 2) }
        try show(args[2])
    default:
        FileHandleLike.stderr(usage)
        exit(2)
    }
} catch {
    fail(error.description)
}

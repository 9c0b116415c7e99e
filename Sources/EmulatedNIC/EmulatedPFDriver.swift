import FileSystem
import JSON
import Netlink
import PFDriver
import Sysfs
import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

/// The driver of an emulated SR-IOV PF (see `vfwirectl sim`). Its VF netdevs are veths whose
/// peers are ports of an "embedded switch": one Linux bridge per VLAN, because this kernel has
/// neither bridge VLAN filtering nor 8021q. A PF cabled to another (`sim cable`) joins each of
/// its VLAN bridges to the peer's bridge of the same VLAN (see Cable.swift). The VF table lives
/// in files beside the device, and
/// every setting is enforced on the veth pair, as a NIC would enforce it in hardware:
/// - vlan picks the bridge the peer is a port of, so only same-VLAN VFs reach each other;
/// - the admin MAC becomes the VF netdev's MAC;
/// - link_state drives the peer's state, which the VF sees as carrier;
/// - max_tx_rate is a tbf qdisc on the peer.
/// spoofchk, trust, vlanQoS, vlanProto and min_tx_rate are kept and read back but not enforced.
public final class EmulatedPFDriver: PFDriver {
    public static let driverName = "vfwire-sim"
    public static let vfDriverName = "vfwire-simvf"

    let pf: PCIFunction
    public var driverName: String { Self.driverName }
    public let pfName: String
    let stateDir: String
    private var nl: Netlink?

    public init(_ pf: PCIFunction) throws {
        self.pf = pf
        guard let name = pf.netdevs.first else { throw FSError.failed("emulated PF \(pf) has no netdev") }
        pfName = name
        stateDir = pf.dir + "/" + Self.driverName
    }

    func netlink() throws -> Netlink {
        if let nl { return nl }
        let n = try Netlink()
        nl = n
        return n
    }

    // The switch's names. The PF's own bridge is the untagged segment.
    public static func portName(pf: String, vf: Int) -> String { "\(pf)_\(vf)" }
    public static func bridgeName(pf: String, vlan: VLAN) -> String { vlan.id == 0 ? pf : "\(pf).\(vlan.id)" }

    /// Switch ports keep one MAC across VF netdev re-creation, so the switch (and the PF
    /// bridge, whose MAC follows its lowest port's) looks the same afterwards.
    public static func portMAC(pf: PCIAddress, vf: Int) -> MACAddress {
        MACAddress(bytes: [0x02, 0xfe, UInt8(truncatingIfNeeded: pf.domain), pf.bus, UInt8(vf >> 8), UInt8(vf & 0xff)])!
    }

    /// A VF netdev's own MAC, what a NIC burns in: a netdev re-created after its namespace died
    /// comes back with it, and a lost record can still say what the VF had.
    public static func vfMAC(pf: PCIAddress, vf: Int) -> MACAddress {
        MACAddress(bytes: [0x02, 0xfd, UInt8(truncatingIfNeeded: pf.domain), pf.bus, UInt8(vf >> 8), UInt8(vf & 0xff)])!
    }

    public static func vfName(pf: String, vf: Int) -> String { "\(pf)v\(vf)" }

    public func pristineNetdev(vf: Int) -> PristineNetdev {
        PristineNetdev(name: Self.vfName(pf: pfName, vf: vf), mac: Self.vfMAC(pf: pf.address, vf: vf))
    }

    /// A VF netdev is the veth peer of its switch port, which stays in the host: each names
    /// the other's ifindex, wherever the VF netdev went.
    public func netdevTest(vf: PCIFunction, index: Int) throws -> (LinkInfo) -> Bool {
        guard let port = try netlink().link(named: Self.portName(pf: pfName, vf: index)) else { return { _ in false } }
        return { $0.ifindex == port.link && $0.link == port.ifindex }
    }

    func configPath(_ vf: Int) -> String { stateDir + "/vf\(vf).json" }

    public func config(vf: Int) throws -> VFConfig {
        // Every ADD of the VF reads its entry first: the moment to drop what a kill left.
        FS.sweepTemporaries(in: stateDir, of: "vf\(vf).json")
        guard let bytes = FS.read(configPath(vf)) else { throw FSError.failed("emulated VF \(vf) of \(pf) does not exist") }
        do { return try JSON.decode(VFConfig.self, from: bytes) } catch {
            throw FSError.failed("emulated VF table entry \(configPath(vf)) is corrupt: \(error)")
        }
    }

    func store(_ c: VFConfig, vf: Int) throws {
        do { try FS.writeAtomically(configPath(vf), JSON.encode(c)) }
        catch let e as FSError { throw e } catch { throw FSError.failed("cannot encode VF table entry: \(error)") }
    }

    public func apply(vf: Int, _ change: VFChange) throws {
        var c = try config(vf: vf)
        if let m = change.mac { c.mac = m }
        if let v = change.vlan { c.vlan = v.vlan; c.qos = v.qos; c.vlanProto = v.proto }
        if let s = change.spoofchk { c.spoofchk = s }
        if let t = change.trust { c.trust = t }
        if let r = change.rate { c.minTxRate = r.min; c.maxTxRate = r.max }
        if let l = change.linkState { c.linkState = l }
        try store(c, vf: vf)
        try enforce(c, vf: vf, change: change)
    }

    /// Makes the veth pair of `vf` behave as `c` says, for the fields in `change`.
    func enforce(_ c: VFConfig, vf: Int, change: VFChange) throws {
        let nl = try netlink()
        let port = Self.portName(pf: pfName, vf: vf)
        guard let peer = try nl.link(named: port) else {
            throw FSError.failed("emulated VF \(vf) of \(pfName) has no switch port \(port)")
        }
        if change.vlan != nil {
            try withPFLock { () throws in
                let master = try bridge(for: c.vlan)
                if peer.master != master {
                    try nl.modify(ifindex: peer.ifindex, LinkChange(master: master), what: "cannot put \(port) on VLAN \(c.vlan)")
                }
                try dropEmptyBridges()
            }
        }
        if change.linkState != nil || change.vlan != nil {
            try nl.modify(ifindex: peer.ifindex, LinkChange(up: c.linkState != .disable),
                          what: "cannot set link state of VF \(vf)")
        }
        if change.rate != nil { try nl.setRateLimit(ifindex: peer.ifindex, mbps: c.maxTxRate) }
        if let m = change.mac, !m.isZero, peer.linkNetnsid == nil, peer.link > 0 {
            try nl.modify(ifindex: peer.link, LinkChange(mac: m), what: "cannot give VF \(vf) its MAC \(m)")
        }
    }

    /// The switch segment of `vlan`, made on first use.
    func bridge(for vlan: VLAN) throws -> Int32 {
        let nl = try netlink()
        let name = Self.bridgeName(pf: pfName, vlan: vlan)
        if let b = try nl.link(named: name) { return b.ifindex }
        do { try nl.addBridge(name: name) } catch {
            // A concurrent ADD may have made it first.
            if try nl.link(named: name) == nil { throw error }
        }
        guard let b = try nl.link(named: name) else { throw NetlinkError.failed("bridge \(name) vanished") }
        if !b.isUp { try nl.modify(ifindex: b.ifindex, LinkChange(up: true), what: "cannot bring up \(name)") }
        try joinCable(vlan: vlan, bridge: b.ifindex)
        return b.ifindex
    }

    /// A VLAN segment exists while a VF is on it, as a VLAN in a NIC's switch table does. All
    /// of the PF's empty ones go, not only the one a port just left: a process killed between
    /// making a bridge and moving a port onto it left one behind. Under the PF lock no other
    /// process is between those steps. The cable's segment is no VF: a bridge left with only
    /// that goes, and the segment with it. The bridges and their ports are read from sysfs: a
    /// link dump of a testbed's host (a port and a VF netdev per VF, a bridge per VLAN) cost
    /// every VLAN change milliseconds of parsing while holding the lock the next ADD waits on.
    func dropEmptyBridges() throws {
        let nl = try netlink()
        for b in FS.list(Self.netClass) where b.hasPrefix(pfName + ".") {
            let ports = FS.list("\(Self.netClass)/\(b)/brif")
            guard ports.allSatisfy({ Self.isSegment($0, of: pfName) }) else { continue }
            for p in ports + [b] {
                if let l = try nl.link(named: p) { try nl.deleteLink(ifindex: l.ifindex) }
            }
        }
    }

    /// The kernel's view of the host's netdevs, whatever sysfs root the PCI tree has.
    static let netClass = "/sys/class/net"

    /// Serializes changes to the switch (bridges, ports) and the sysfs view between processes.
    /// A cabled PF's changes reach into the peer's switch, so they hold the peer's lock too;
    /// both are taken in one order, so two cabled PFs never wait for each other.
    func withPFLock<T>(_ body: () throws -> T) throws -> T {
        while true {
            let cable = try self.cable()
            let held = try Self.lock([stateDir] + (cable.map { [peerStateDir($0)] } ?? []))
            defer { held.forEach { close($0) } }
            // A `sim cable` or `uncable` between reading the cable and locking: read it again.
            if try self.cable() == cable { return try body() }
        }
    }

    /// Locks the PFs' lock files, in path order; the descriptors hold the locks until closed.
    static func lock(_ stateDirs: [String]) throws -> [Int32] {
        var fds: [Int32] = []
        for dir in Set(stateDirs).sorted() {
            let fd = open(dir + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                let why = FS.errnoText()
                fds.forEach { close($0) }
                throw FSError.failed("cannot open \(dir)/lock: \(why)")
            }
            flock(fd, LOCK_EX)
            fds.append(fd)
        }
        return fds
    }

    /// What the kernel does for a real VF: its netdev always exists, in some namespace. A veth
    /// dies with its namespace instead, so here the "VF driver" probes a new netdev under the
    /// kernel's fallback name `dev<ifindex>` with the VF's table state, and the sysfs `net/`
    /// entries are brought in line with where each VF netdev is now. One VF costs a lookup or
    /// two by name; all of them cost one link dump.
    public func refresh(vf: Int?) throws {
        try withPFLock { () throws in
            let nl = try netlink()
            let fns = pf.virtfns()
            if let vf {
                guard let fn = fns[vf] else { return }
                let peer = try nl.link(named: Self.portName(pf: pfName, vf: vf))
                var host: String?
                if let peer, peer.linkNetnsid == nil { host = try nl.link(index: peer.link)?.name }
                try sync(fn, vf: vf, peerExists: peer != nil, hostName: host)
                return
            }
            let links = try nl.links()
            let byName = Dictionary(links.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            let byIndex = Dictionary(links.map { ($0.ifindex, $0) }, uniquingKeysWith: { a, _ in a })
            for (i, fn) in fns {
                let peer = byName[Self.portName(pf: pfName, vf: i)]
                let host = peer.flatMap { $0.linkNetnsid == nil ? byIndex[$0.link]?.name : nil }
                try sync(fn, vf: i, peerExists: peer != nil, hostName: host)
            }
        }
    }

    /// Respawns a VF netdev that died, and makes `net/` list the one in the host, if any.
    private func sync(_ fn: PCIFunction, vf: Int, peerExists: Bool, hostName: String?) throws {
        let name = peerExists ? hostName : try respawn(vf: vf)
        let netDir = fn.dir + "/net"
        let want = name.map { [$0] } ?? []
        let have = fn.netdevs
        guard have != want else { return }
        for n in have where !want.contains(n) { FS.removeTree(netDir + "/" + n) }
        for n in want where !have.contains(n) { try FS.mkdirs(netDir + "/" + n) }
    }

    private func respawn(vf: Int) throws -> String {
        let nl = try netlink()
        let c = try config(vf: vf)
        let port = Self.portName(pf: pfName, vf: vf)
        let tmp = "vfwsim\(getpid() % 100_000)"
        try nl.addVeth(name: tmp, peer: port, mac: c.mac.isZero ? Self.vfMAC(pf: pf.address, vf: vf) : c.mac,
                       peerMAC: Self.portMAC(pf: pf.address, vf: vf))
        guard let dev = try nl.link(named: tmp), let peer = try nl.link(named: port) else {
            throw NetlinkError.failed("emulated VF \(vf): new netdev vanished")
        }
        let name = "dev\(dev.ifindex)"
        try nl.modify(ifindex: dev.ifindex, LinkChange(name: name), what: "cannot name VF \(vf) netdev \(name)")
        try nl.modify(ifindex: peer.ifindex, LinkChange(up: c.linkState != .disable, master: try bridge(for: c.vlan)),
                      what: "cannot attach VF \(vf) to its switch")
        if c.maxTxRate > 0 { try nl.setRateLimit(ifindex: peer.ifindex, mbps: c.maxTxRate) }
        return name
    }
}

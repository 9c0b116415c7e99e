import FileSystem
import JSON
import Netlink
import PFDriver
import Sysfs
import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

/// What a PF's cable file (`vfwire-sim/cable` beside its VF table) records: the PF at the
/// other end.
public struct Cable: Codable, Equatable, Sendable {
    public var peer: String
    public var pci: String
}

/// A cable between two emulated PFs, as a trunk between two NICs' ports: a frame of a VF on
/// VLAN N of one PF reaches the VFs on VLAN N of the other, and no other VLAN. Neither bridge
/// VLAN filtering nor 8021q exists on this kernel, so the cable cannot carry tags: it is a veth
/// pair per VLAN both PFs carry, between their bridges of that VLAN (`PF+N` on each side; the
/// PF bridges themselves, the untagged segment, are joined by `PF+0`). A segment appears when
/// the second PF makes its VLAN's bridge and goes with the first bridge that empties, so the
/// cable carries exactly the VLANs in use at both ends. The plugin never sees any of it: its
/// path down to `PFDriver.apply` is the one hardware takes.
extension EmulatedPFDriver {
    /// The cable's port on this PF's bridge of `vlan`.
    public static func segmentName(pf: String, vlan: VLAN) -> String { "\(pf)+\(vlan.id)" }

    static func isSegment(_ name: String, of pf: String) -> Bool { name.hasPrefix(pf + "+") }

    /// Above every VF port's MAC, so the PF bridge, whose MAC follows its lowest port's, keeps its own.
    static func segmentMAC(pf: PCIAddress, vlan: VLAN) -> MACAddress {
        MACAddress(bytes: [0x02, 0xfe, UInt8(truncatingIfNeeded: pf.domain), pf.bus,
                           0x80 | UInt8(vlan.id >> 8), UInt8(vlan.id & 0xff)])!
    }

    var cablePath: String { stateDir + "/cable" }

    /// The PF this one is cabled to, if any.
    public func cable() throws -> Cable? {
        guard let bytes = FS.read(cablePath) else { return nil }
        do { return try JSON.decode(Cable.self, from: bytes) } catch {
            throw FSError.failed("cable file \(cablePath) is corrupt: \(error); remove it and cable again")
        }
    }

    func peerStateDir(_ c: Cable) -> String {
        pf.root.path + "/bus/pci/devices/" + c.pci + "/" + Self.driverName
    }

    /// Joins this PF's bridge of `vlan` to the peer's, when the PF is cabled and the peer has one.
    /// Under both PFs' locks (`withPFLock`).
    func joinCable(vlan: VLAN, bridge: Int32) throws {
        guard let c = try cable(), let peerPCI = PCIAddress(c.pci) else { return }
        let nl = try netlink()
        let mine = Self.segmentName(pf: pfName, vlan: vlan)
        guard let peerBridge = try nl.link(named: Self.bridgeName(pf: c.peer, vlan: vlan)),
              try nl.link(named: mine) == nil else { return }
        let theirs = Self.segmentName(pf: c.peer, vlan: vlan)
        try nl.addVeth(name: mine, peer: theirs, mac: Self.segmentMAC(pf: pf.address, vlan: vlan),
                       peerMAC: Self.segmentMAC(pf: peerPCI, vlan: vlan))
        for (end, master) in [(mine, bridge), (theirs, peerBridge.ifindex)] {
            guard let l = try nl.link(named: end) else { throw NetlinkError.failed("cable segment \(end) vanished") }
            try nl.modify(ifindex: l.ifindex, LinkChange(up: true, master: master), what: "cannot put cable segment \(end) on its bridge")
        }
    }

    /// Every VLAN this PF's switch has now, the untagged one included.
    func vlansInUse() throws -> [VLAN] {
        [VLAN.untagged] + (try netlink().links()).compactMap { l in
            l.name.hasPrefix(pfName + ".") ? Int(l.name.dropFirst(pfName.count + 1)).flatMap { VLAN($0) } : nil
        }
    }

    /// Removes every segment of this PF's cable; the veth's other end, on the peer, goes with each.
    func cutSegments() throws {
        let nl = try netlink()
        for l in try nl.links() where Self.isSegment(l.name, of: pfName) { try nl.deleteLink(ifindex: l.ifindex) }
    }
}

extension EmulatedNIC {
    /// The emulated PF named `name`, and its driver.
    static func emulated(_ name: String) throws -> EmulatedPFDriver {
        let n = try validate(name: name)
        guard let pf = sysfs.pf(netdev: n), pf.driver == EmulatedPFDriver.driverName else {
            throw EmulatedNICError("no emulated PF named \(name) (vfwirectl sim list shows them)")
        }
        return try EmulatedPFDriver(pf)
    }

    /// The PF `name` is cabled to, if any.
    public static func cable(of name: String) throws -> Cable? { try emulated(name).cable() }

    /// The VLANs `name`'s cable carries now: those with a segment.
    public static func cableVLANs(_ name: String) -> [VLAN] {
        let links = (try? Netlink().links()) ?? []
        return links.compactMap { l in
            EmulatedPFDriver.isSegment(l.name, of: name) ? Int(l.name.dropFirst(name.count + 1)).flatMap { VLAN($0) } : nil
        }.sorted { $0.id < $1.id }
    }

    /// Cables two emulated PFs: from now on each VLAN both carry is one segment across them.
    public static func cable(_ a: String, _ b: String) throws {
        guard a != b else { throw EmulatedNICError("cannot cable \(a) to itself: name two emulated PFs") }
        let (da, db) = (try emulated(a), try emulated(b))
        let held = try EmulatedPFDriver.lock([da.stateDir, db.stateDir])
        defer { held.forEach { close($0) } }
        for (d, other) in [(da, b), (db, a)] {
            if let c = try d.cable() {
                throw EmulatedNICError("\(d.pfName) is cabled to \(c.peer) already: vfwirectl sim uncable \(d.pfName) \(c.peer) first, then cable it to \(other)")
            }
        }
        for (d, peer) in [(da, db), (db, da)] {
            let c = Cable(peer: peer.pfName, pci: peer.pf.address.description)
            do { try FS.writeAtomically(d.cablePath, JSON.encode(c)) }
            catch let e as FSError { throw e } catch { throw FSError.failed("cannot encode cable of \(d.pfName): \(error)") }
        }
        do {
            let nl = try Netlink()
            for vlan in try da.vlansInUse() {
                guard let br = try nl.link(named: EmulatedPFDriver.bridgeName(pf: a, vlan: vlan)) else { continue }
                try da.joinCable(vlan: vlan, bridge: br.ifindex)
            }
        } catch {
            try? unplug(da, db)
            throw error
        }
    }

    /// Removes the cable between `a` and `b`: every segment, and both PFs' record of it.
    public static func uncable(_ a: String, _ b: String) throws {
        let (da, db) = (try emulated(a), try emulated(b))
        let held = try EmulatedPFDriver.lock([da.stateDir, db.stateDir])
        defer { held.forEach { close($0) } }
        guard try da.cable()?.peer == b else {
            let now = try da.cable().map { "it is cabled to \($0.peer)" } ?? "it is not cabled"
            throw EmulatedNICError("\(a) is not cabled to \(b): \(now) (vfwirectl sim list shows cables)")
        }
        try unplug(da, db)
    }

    /// Cuts the segments and removes both cable files; the caller holds both locks.
    private static func unplug(_ da: EmulatedPFDriver, _ db: EmulatedPFDriver) throws {
        try da.cutSegments()
        try db.cutSegments()
        for d in [da, db] where try d.cable()?.peer == (d === da ? db : da).pfName { FS.removeTree(d.cablePath) }
    }
}

import LinkKinds
import VFWireTypes
import Yams

/// Tunnel links: `kind: vxlan` or `kind: gretap` on a link between nodes of two hosts, each host's
/// underlay address under `hosts:`. A fallback the file asks for; every other link is a VF pair.
extension Topology {
    /// `hosts: {h1: {underlay: 198.18.250.1/24, mtu: 1500}}`.
    static func hosts(_ n: Yams.Node, _ c: Collector) -> [String: Host] {
        var out: [String: Host] = [:]
        for (k, v) in c.check({ try mapping(n, "hosts") }) ?? Yams.Node.Mapping([]) {
            guard let name = k.string, !name.isEmpty else { c.error(line(k), "a host needs a name"); continue }
            guard let m = c.check({ try mapping(v, "host \(name)") }) else { continue }
            c.allowOnly(m, ["underlay", "mtu"], in: "host \(name)")
            var h = Host()
            if let u = m["underlay"] {
                // A bare address is the host's own; its prefix plays no part in a tunnel.
                let text = u.string.map { $0.contains("/") ? $0 : $0 + "/32" } ?? ""
                if let a = IPv4Interface(text) { h.underlay = a } else {
                    c.error(line(u), "underlay of host \(name) must be an IPv4 address like 198.18.250.1")
                }
            }
            if let v = m["mtu"] { c.check { h.mtu = try mtu(v) } }
            out[name] = h
        }
        return out
    }

    /// A link's `kind`: vf (the default), vxlan or gretap.
    static func linkKind(_ n: Yams.Node) throws -> LinkKind {
        if n.string == "vf" { return .vf }
        guard let s = n.string, let k = TunnelEnd.Kind(rawValue: s) else {
            throw TopologyError(line: line(n), message: "kind must be vf, vxlan or gretap")
        }
        return .tunnel(k)
    }

    /// What a tunnel link needs once the whole file is read: nodes on two hosts that have
    /// underlays, both on netns, both ends kernel.
    func tunnelProblems() -> [TopologyError] {
        var out: [TopologyError] = []
        for (i, l) in links.enumerated() {
            guard case .tunnel(let kind) = l.kind else { continue }
            let what = "link \(i + 1) is \(kind.rawValue)"
            let nodes = [l.a, l.b].compactMap { e in self.nodes.first { $0.name == e.node } }
            guard nodes.count == 2 else { continue }
            for n in nodes where n.runtime != .netns {
                out.append(TopologyError(line: l.line, message: "\(what): node \(n.name) runs on \(n.runtime.rawValue), and tunnel ends are made only in netns nodes so far; use a VF link or a netns node"))
            }
            for e in [l.a, l.b] where e.mode == .vfio {
                out.append(TopologyError(line: l.line, message: "\(what): endpoint \(e.node):\(e.ifname) cannot be vfio; a tunnel end is a kernel netdev"))
            }
            let hostNames = nodes.map(\.host)
            guard let ha = hostNames[0], let hb = hostNames[1] else {
                out.append(TopologyError(line: l.line, message: "\(what): both its nodes need a host"))
                continue
            }
            if ha == hb {
                out.append(TopologyError(line: l.line, message: "\(what) within host \(ha); a link within a host is a VF pair (drop kind)"))
                continue
            }
            for h in [ha, hb] where hosts[h]?.underlay == nil {
                out.append(TopologyError(line: l.line, message: "\(what): host \(h) has no underlay address; add hosts: {\(h): {underlay: ADDRESS}}"))
            }
        }
        return out
    }
}

extension Plan {
    /// A tunnel link's ID: the link's VLAN number, which is unique in the plan, in the low 12
    /// bits, and the topology's name hashed above it, so two topologies over one underlay differ.
    static func tunnelID(_ topology: String, _ vlan: VLAN) -> UInt32 {
        UInt32(truncatingIfNeeded: fnv1a(topology.utf8) & 0xfff) << 12 | UInt32(vlan.id)
    }

    /// What a tunnel end is on this host, for the runner to make.
    func tunnelEnd(_ e: PlannedEnd, _ l: PlannedLink, namespace: String) -> TunnelEnd? {
        guard case .tunnel(let kind) = l.kind, let mtu = l.mtu else { return nil }
        let other = l.a.node == e.node ? l.b : l.a
        func underlay(_ node: String) -> String? {
            topology.nodes.first { $0.name == node }?.host.flatMap { topology.hosts[$0]?.underlay?.ip }
        }
        guard let local = underlay(e.node), let remote = underlay(other.node) else { return nil }
        return TunnelEnd(kind: kind, namespace: namespace, interface: e.ifname, mac: e.mac, cidr: e.address.description,
                         mtu: mtu, local: local, remote: remote, id: Self.tunnelID(topology.name, l.vlan))
    }

    /// A tunnel's MTU: what the underlay of both hosts leaves after the encapsulation, or the
    /// link's own if that fits.
    static func tunnelMTU(_ t: Topology, _ l: Topology.Link, _ kind: TunnelEnd.Kind) throws -> Int {
        let hosts = [l.a, l.b].compactMap { e in t.nodes.first { $0.name == e.node }?.host.flatMap { t.hosts[$0] } }
        let room = (hosts.map(\.mtu).min() ?? 1500) - kind.overhead
        if let asked = l.mtu, asked > room {
            throw TopologyError(line: l.line, message: "mtu \(asked) does not fit a \(kind.rawValue) tunnel: its underlay leaves \(room) (\(kind.overhead) bytes go to the encapsulation)")
        }
        return min(l.mtu ?? t.defaults.mtu ?? room, room)
    }
}

extension Plan.PlannedLink {
    /// `vf`, `vxlan` or `gretap`, as the file's `kind` says it.
    public var kindName: String {
        guard case .tunnel(let kind) = kind else { return "vf" }
        return kind.rawValue
    }

    /// What carries it, as `plan` shows it: the VLAN, or the tunnel kind and its ID.
    public func carrier(_ topology: String) -> String {
        kind == .vf ? "\(vlan)" : "\(kindName) \(Plan.tunnelID(topology, vlan))"
    }
}

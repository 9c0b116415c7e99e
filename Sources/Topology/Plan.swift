import Foundation
import CNIClient
import CNIProtocol
import FileSystem
import JSON
import Shaping
import VFWireTypes

/// What a topology becomes, the same on every host and every run: a VLAN, a subnet and two
/// MACs per link, and the routes each node needs to reach every other link. Hosts agree on it
/// without talking to each other because nothing in it depends on the host.
public struct Plan: Sendable {
    public var topology: Topology
    public var links: [PlannedLink]
    /// Per node: its routes, each via the neighbor on the first hop of a shortest path.
    public var routes: [String: [Route]]

    public struct PlannedLink: Sendable {
        public var index: Int
        /// For a tunnel link, the number its ID is made from.
        public var vlan: VLAN
        public var mtu: Int?
        public var kind: Topology.LinkKind
        public var path: Path
        public var a: PlannedEnd
        public var b: PlannedEnd
    }

    public struct PlannedEnd: Sendable {
        public var node: String
        public var ifname: InterfaceName
        public var mac: MACAddress
        public var address: IPv4Interface
        public var mode: VFMode
        /// The PF this end takes its VF from (nil when the file names no PF).
        public var pf: InterfaceName?
        /// The CNI network this endpoint attaches through.
        public var network: String
        public var maxTxRate: UInt32? = nil
        public var impairment = Impairment()
    }

    public struct Route: Sendable, Equatable {
        public var dst: IPv4Prefix
        public var via: IPv4Interface
        public var ifname: InterfaceName
    }

    public init(_ t: Topology) throws {
        topology = t
        var free = t.defaults.vlans.filter { id in !t.links.contains { $0.vlan?.id == UInt16(id) } }.makeIterator()
        let slots = t.defaults.addresses.size / 4
        guard UInt64(t.links.count) <= slots else {
            throw TopologyError(line: t.links.last?.line, message: "\(t.links.count) links need \(t.links.count) /30s; \(t.defaults.addresses.description) has \(slots)")
        }
        let placed = Self.place(t)
        links = try t.links.enumerated().map { i, l in
            guard let vlan = l.vlan ?? free.next().flatMap({ VLAN($0) }) else {
                throw TopologyError(line: l.line, message: "no VLAN left in \(t.defaults.vlans.lowerBound)-\(t.defaults.vlans.upperBound) for this link")
            }
            let subnet = t.defaults.addresses.base + UInt32(i * 4)
            func end(_ e: Topology.Endpoint, _ host: UInt32, _ pf: InterfaceName?) -> PlannedEnd {
                PlannedEnd(node: e.node, ifname: e.ifname, mac: e.mac ?? Self.mac(t.name, e.node, e.ifname.value),
                           address: e.address ?? IPv4Interface(address: subnet + host, length: 30), mode: e.mode, pf: pf,
                           network: "\(t.name)-\(e.node)-\(e.ifname.value)", maxTxRate: e.maxTxRate, impairment: e.impairment)
            }
            var mtu = l.mtu ?? t.defaults.mtu
            if case .tunnel(let kind) = l.kind { mtu = try Self.tunnelMTU(t, l, kind) }
            return PlannedLink(index: i, vlan: vlan, mtu: mtu, kind: l.kind, path: placed[i].path,
                               a: end(l.a, 1, placed[i].a), b: end(l.b, 2, placed[i].b))
        }
        routes = Self.routes(t.nodes.map(\.name), links)
    }

    /// A locally administered MAC from the endpoint's name: the same wherever it is planned.
    static func mac(_ topo: String, _ node: String, _ ifname: String) -> MACAddress {
        var h = fnv1a("\(topo)/\(node)/\(ifname)".utf8)
        // FNV leaves the low bytes of similar names alike; splitmix64's finalizer spreads them.
        h = (h ^ (h >> 30)) &* 0xbf58_476d_1ce4_e5b9
        h = (h ^ (h >> 27)) &* 0x94d0_49bb_1331_11eb
        h ^= h >> 31
        return MACAddress(bytes: [0x02] + (0..<5).map { UInt8(truncatingIfNeeded: h >> (8 * $0)) })!
    }

    /// Breadth-first from each node, in link order, so ties break the same way everywhere.
    static func routes(_ nodes: [String], _ links: [PlannedLink]) -> [String: [Route]] {
        var adj: [String: [(PlannedEnd, PlannedEnd)]] = [:]
        for l in links {
            adj[l.a.node, default: []].append((l.a, l.b))
            adj[l.b.node, default: []].append((l.b, l.a))
        }
        var out: [String: [Route]] = [:]
        for n in nodes {
            // First hop (our end, neighbor's end) and distance for every node reached.
            var hop: [String: (PlannedEnd, PlannedEnd)] = [:]
            var dist: [String: Int] = [n: 0]
            var queue = [n]
            while !queue.isEmpty {
                let cur = queue.removeFirst()
                for (mine, theirs) in adj[cur] ?? [] where dist[theirs.node] == nil {
                    dist[theirs.node] = dist[cur]! + 1
                    hop[theirs.node] = cur == n ? (mine, theirs) : hop[cur]
                    queue.append(theirs.node)
                }
            }
            var rs: [Route] = []
            for l in links where l.a.node != n && l.b.node != n {
                // The nearer end of the link decides the first hop.
                let near = (dist[l.a.node] ?? .max) <= (dist[l.b.node] ?? .max) ? l.a.node : l.b.node
                guard let h = hop[near] else { continue }
                rs.append(Route(dst: l.a.address.network, via: h.1.address, ifname: h.0.ifname))
            }
            out[n] = rs
        }
        return out
    }

    public func ends(of node: String) -> [(PlannedEnd, PlannedLink)] {
        links.flatMap { l in [l.a, l.b].filter { $0.node == node }.map { ($0, l) } }
    }

    /// The CNI network of one endpoint, as `write(to: dir)` puts it in `dir`: vfwire on the
    /// PF the placement gave the end, the link's VLAN, the endpoint's MAC, its address and routes through static
    /// IPAM. A container may still ask for its own MAC or VLAN: the capabilities say so.
    public func networkList(_ e: PlannedEnd, _ l: PlannedLink, in dir: String) -> NetworkList {
        var plugin: [String: JSONValue] = ["type": .string("vfwire"), "vlan": .number(Double(l.vlan.id)),
                                           "mac": .string(e.mac.description),
                                           "capabilities": .object(["mac": .bool(true), "vlan": .bool(true)])]
        if let pf = e.pf { plugin["pf"] = .array([.string(pf.value)]) }
        if let mtu = l.mtu { plugin["mtu"] = .number(Double(mtu)) }
        if e.mode == .vfio { plugin["mode"] = .string(e.mode.rawValue) }
        if let rate = e.maxTxRate { plugin["max_tx_rate"] = .number(Double(rate)) }
        var ipam: [String: JSONValue] = ["type": .string("static"),
                                         "addresses": .array([.object(["address": .string(e.address.description)])])]
        let rs = (routes[e.node] ?? []).filter { $0.ifname == e.ifname }
        if !rs.isEmpty {
            ipam["routes"] = .array(rs.map { .object(["dst": .string($0.dst.description), "gw": .string($0.via.ip)]) })
        }
        plugin["ipam"] = .object(ipam)
        return NetworkList(name: e.network, cniVersion: .latest, plugins: [plugin], path: dir + "/net.d/\(e.network).conflist")
    }

    /// The attachment list of a node, in vfwire-hook's syntax: its VF ends.
    public func attachments(of node: String) -> String {
        ends(of: node).filter { $0.1.kind == .vf }.map { "\($0.0.network):\($0.0.ifname)" }.joined(separator: " ")
    }

    /// Writes net.d/<network>.conflist for every endpoint and nodes/<node>.networks.
    public func write(to dir: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/net.d", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/nodes", withIntermediateDirectories: true)
        for l in links where l.kind == .vf {
            for e in [l.a, l.b] {
                let list = networkList(e, l, in: dir)
                try FS.writeAtomically(list.path, list.encoded())
            }
        }
        for n in topology.nodes {
            try (attachments(of: n.name) + "\n").write(toFile: dir + "/nodes/\(n.name).networks", atomically: true, encoding: .utf8)
        }
    }

    /// The plan as a table: one row per link end.
    public func table() -> String {
        var rows = [["LINK", "VLAN", "PATH", "NODE", "IFNAME", "PF", "MAC", "ADDRESS", "HOST"]]
        for l in links {
            for e in [l.a, l.b] {
                let host = topology.host(of: e.node) ?? "-"
                rows.append(["\(l.index + 1)", l.carrier(topology.name), l.path.rawValue, e.node, e.ifname.value, e.pf?.value ?? "-",
                             e.mac.description, e.address.description, host])
            }
        }
        var out = render(rows)
        let withRoutes = topology.nodes.filter { !(routes[$0.name] ?? []).isEmpty }
        if !withRoutes.isEmpty {
            out += "\n"
            var r = [["NODE", "ROUTE", "VIA", "DEV"]]
            for n in withRoutes { for x in routes[n.name]! { r.append([n.name, x.dst.description, x.via.ip, x.ifname.value]) } }
            out += render(r)
        }
        return out + shapingTable()
    }
}

func render(_ rows: [[String]]) -> String {
    let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
    return rows.map { r in
        r.enumerated().map { i, s in i == r.count - 1 ? s : s.padding(toLength: widths[i] + 2, withPad: " ", startingAt: 0) }.joined()
    }.joined(separator: "\n") + "\n"
}

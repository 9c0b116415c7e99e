import VFWireTypes
import Yams

/// Which path a link's packets take, and so which PF each end takes its VF from. A measurement
/// between two VFs of one PF measures the NIC's embedded switch; between VFs of two cabled PFs,
/// it measures the wire and both NICs' ports. Left to chance, the two mix in one testbed.
extension Topology {
    /// Two PFs cabled back to back (`defaults.pairs`), in the file's order.
    public struct PFPair: Sendable, Equatable {
        public var a: InterfaceName
        public var b: InterfaceName
        public var line: Int
    }

    /// A link's `placement:` key.
    public enum Placement: String, Sendable {
        /// Both ends on one PF: the packet hairpins through the NIC's switch.
        case `internal`
        /// Each end on one PF of a cabled pair: the packet crosses the cable.
        case wire
    }

    /// What a link asks for, and where the file says so.
    public struct PlacementRequest: Sendable {
        public var placement: Placement
        public var line: Int
    }

    /// The PFs links may use: `pf` first, then the pairs' PFs not already among them.
    public var pfPool: [InterfaceName] {
        var pool = defaults.pfs
        for p in defaults.pairs { for pf in [p.a, p.b] where !pool.contains(pf) { pool.append(pf) } }
        return pool
    }

    func host(of node: String) -> String? { nodes.first { $0.name == node }?.host }

    /// `defaults.pairs: [[PF1, PF2], ...]`: each PF a distinct interface, in one pair at most, as
    /// a PF has one port and so one cable.
    static func pairs(_ n: Yams.Node, _ c: Collector) -> [PFPair] {
        let what = "pairs must be a list of cabled PF pairs, like [[ens1f0, ens1f1]]"
        guard case .sequence(let items) = n else { c.error(line(n), what); return [] }
        var out: [PFPair] = []
        var seen: [InterfaceName: Int] = [:]
        for item in items {
            let l = line(item) ?? line(n) ?? 0
            guard case .sequence(let two) = item, two.count == 2,
                  let a = two[0].string.flatMap(InterfaceName.init), let b = two[1].string.flatMap(InterfaceName.init) else {
                c.error(l, what); continue
            }
            if a == b { c.error(l, "pair [\(a), \(b)] cables \(a) to itself: a pair is two distinct PFs"); continue }
            if let first = [a, b].compactMap({ pf in seen[pf].map { (pf, $0) } }).first {
                c.error(l, "\(first.0) is in two pairs (first at line \(first.1)): a PF has one cable"); continue
            }
            seen[a] = l; seen[b] = l
            out.append(PFPair(a: a, b: b, line: l))
        }
        return out
    }

    static func placement(_ n: Yams.Node) throws -> PlacementRequest {
        guard let s = n.string, let p = Placement(rawValue: s) else {
            throw TopologyError(line: line(n), message: "placement '\(n.string ?? "")' is unknown: it is wire (across a cabled PF pair) or internal (through one PF's switch)")
        }
        return PlacementRequest(placement: p, line: line(n) ?? 0)
    }

    /// The placements no host could carry out: a wire link without pairs, and a placement on a
    /// link whose ends are on two hosts (each end then leaves through its own host's PF).
    func checkPlacements(_ c: Collector) {
        for l in links {
            guard let p = l.placement else { continue }
            let (ha, hb) = (host(of: l.a.node), host(of: l.b.node))
            if ha != hb {
                c.error(p.line, "placement \(p.placement.rawValue): \(l.a.node) is on host \(ha ?? "(none)") and \(l.b.node) on \(hb ?? "(none)"), "
                    + "so the link goes host to host; remove placement, or put both nodes on one host")
            } else if p.placement == .wire && defaults.pairs.isEmpty {
                c.error(p.line, "placement wire needs cabled PFs: declare them in defaults as pairs: [[PF1, PF2]]")
            }
        }
    }
}

extension Plan {
    /// The path a planned link takes.
    public enum Path: String, Sendable {
        case `internal`, wire
        case hostToHost = "host-to-host"
    }

    /// Each link's path and its ends' PFs, from the file alone, so every host places every link
    /// the same way. Links take PFs (internal and host-to-host ones) and pairs (wire ones) in
    /// turn, in file order, so the load spreads evenly. With no PFs named at all, an end names
    /// none and the plugin's own default applies.
    static func place(_ t: Topology) -> [(path: Path, a: InterfaceName?, b: InterfaceName?)] {
        let pool = t.pfPool
        var nextPF = 0, nextPair = 0
        return t.links.map { l in
            // A tunnel leaves through the host's underlay, no PF.
            if l.kind != .vf { return (.hostToHost, nil, nil) }
            let crosses = t.host(of: l.a.node) != t.host(of: l.b.node)
            let wire = !crosses && (l.placement?.placement ?? (t.defaults.pairs.isEmpty ? .internal : .wire)) == .wire
            if wire, !t.defaults.pairs.isEmpty {
                defer { nextPair += 1 }
                let p = t.defaults.pairs[nextPair % t.defaults.pairs.count]
                return (.wire, p.a, p.b)
            }
            let pf = pool.isEmpty ? nil : pool[nextPF % pool.count]
            nextPF += 1
            return (crosses ? .hostToHost : .internal, pf, pf)
        }
    }
}

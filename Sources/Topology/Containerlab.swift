import Foundation
import VFWireTypes
import Yams

/// containerlab's `.clab.yml`, for what maps onto vfwire: container nodes and point-to-point
/// links, each link a VF pair. What has no VF meaning (the management network, host-side
/// links, published ports, a NOS's startup configuration) is reported, never guessed at.
extension Topology {
    /// The node keys that carry over; every other key of a node, its group, kind or the
    /// defaults is reported.
    static let clabNodeKeys: Set<String> = ["kind", "image", "cmd", "exec", "env", "binds", "group", "labels"]
    /// Kinds that are no container of their own: a bridge, the host, a container someone else runs.
    static let clabNonContainerKinds: Set<String> = ["bridge", "ovs-bridge", "host", "ext-container", "k8s-kind"]
    /// Endpoint node names containerlab reserves for links that leave the lab's containers.
    static let clabHostSide: Set<String> = ["host", "mgmt-net", "macvlan"]

    static func containerlab(_ top: Yams.Node.Mapping, _ root: Yams.Node, _ c: Collector) -> Topology {
        var t = Topology(name: "", defaults: Defaults(), nodes: [], links: [])
        // containerlab runs its nodes on Docker.
        t.defaults.runtime = .docker
        for k in top.keys where !["name", "topology"].contains(k.string ?? "") {
            c.unsupported(line(k), "'\(k.string ?? "")' has no vfwire equivalent")
        }
        c.check { t.name = try name(top, root) }
        guard let topo = c.check({ try mapping(top["topology"]!, "topology") }) else { return t }
        for k in topo.keys where !["defaults", "kinds", "groups", "nodes", "links"].contains(k.string ?? "") {
            c.unsupported(line(k), "topology.\(k.string ?? "") has no vfwire equivalent")
        }
        func layer(_ n: Yams.Node?, _ what: String) -> Yams.Node.Mapping? {
            guard let n, let m = c.check({ try mapping(n, what) }) else { return nil }
            for k in m.keys where !clabNodeKeys.contains(k.string ?? "") {
                c.unsupported(line(k), "\(what): '\(k.string ?? "")' has no vfwire equivalent")
            }
            return m
        }
        func layers(_ n: Yams.Node?, _ what: String) -> [String: Yams.Node.Mapping] {
            guard let n, let m = c.check({ try mapping(n, what) }) else { return [:] }
            var out: [String: Yams.Node.Mapping] = [:]
            for (k, v) in m { if let s = k.string, let l = layer(v, "\(what) \(s)") { out[s] = l } }
            return out
        }
        let defaults = layer(topo["defaults"], "defaults") ?? [:]
        let kinds = layers(topo["kinds"], "kind")
        let groups = layers(topo["groups"], "group")

        var skipped: Set<String> = []
        guard let nodesNode = topo["nodes"] else { c.error(line(root), "topology.nodes is missing"); return t }
        for (k, v) in c.check({ try mapping(nodesNode, "topology.nodes") }) ?? Yams.Node.Mapping([]) {
            guard let n = c.check({ try nodeName(k, t.nodes) }) else { continue }
            let own = v.null != nil ? [:] : (layer(v, "node \(n)") ?? [:])
            let group = own["group"]?.string.flatMap { groups[$0] } ?? [:]
            let kindNode = own["kind"] ?? group["kind"] ?? defaults["kind"]
            let kind = kindNode?.string ?? "linux"
            if clabNonContainerKinds.contains(kind) {
                c.unsupported(kindNode.flatMap(line) ?? line(k), "node \(n): kind \(kind) is not a container vfwire can start")
                skipped.insert(n)
                continue
            }
            let all = [own, group, kinds[kind] ?? [:], defaults]
            var node = Node(name: n, runtime: t.defaults.runtime, image: all.lazy.compactMap { $0["image"]?.string }.first,
                            host: nil, cmd: [], line: line(k) ?? 0)
            c.containerSettings(all, into: &node)
            t.nodes.append(node)
        }

        var ends = EndpointBook(nodes: Set(t.nodes.map(\.name)))
        for item in c.check({ try sequence(topo["links"] ?? .sequence(.init([])), "topology.links") }) ?? [] {
            guard let m = c.check({ try mapping(item, "a link") }) else { continue }
            let l = line(item) ?? 0
            // Another type's keys (macvlan's `endpoint`) are that type's business: one line says it all.
            if let type = m["type"], type.string != "veth" {
                c.unsupported(line(type), "a link of type \(type.string ?? "") is no point-to-point link between two nodes")
                continue
            }
            for k in m.keys where !["endpoints", "type", "mtu", "labels"].contains(k.string ?? "") {
                // containerlab has no impairments in its files (only `tools netem set`), so a file with them would not be its.
                c.unsupported(line(k), shapingKeys.contains(k.string ?? "")
                    ? "link: '\(k.string ?? "")' is vfwire's, not containerlab's: shape a containerlab file's links with vfwirectl topo netem set"
                    : "link: '\(k.string ?? "")' has no vfwire equivalent")
            }
            guard let eps = m["endpoints"]?.sequence, eps.count == 2 else {
                c.error(l, "a link needs two endpoints: [\"node:ifname\", \"node:ifname\"]"); continue
            }
            // Node and interface of each end, in the short ("node:ifname") or the extended form.
            let named: [(String, String, Yams.Node.Mapping?, Int)?] = eps.map { e in
                c.check {
                    if let s = e.string {
                        let p = s.split(separator: ":", maxSplits: 1).map(String.init)
                        guard p.count == 2 else { throw TopologyError(line: line(e) ?? l, message: "endpoint '\(s)' must be node:ifname") }
                        return (p[0], p[1], nil, line(e) ?? l)
                    }
                    let em = try mapping(e, "an endpoint")
                    for k in em.keys where !["node", "interface", "mac"].contains(k.string ?? "") {
                        c.unsupported(line(k), "endpoint: '\(k.string ?? "")' has no vfwire equivalent")
                    }
                    guard let node = em["node"]?.string, let ifname = em["interface"]?.string else {
                        throw TopologyError(line: line(e) ?? l, message: "an endpoint needs node and interface")
                    }
                    return (node, ifname, em, line(e) ?? l)
                }
            }
            if let side = named.compactMap({ $0 }).first(where: { clabHostSide.contains($0.0) && !ends.nodes.contains($0.0) }) {
                c.unsupported(side.3, "endpoint \(side.0):\(side.1) leaves the lab's containers; vfwire links only join two nodes")
                continue
            }
            if let gone = named.compactMap({ $0 }).first(where: { skipped.contains($0.0) }) {
                c.unsupported(gone.3, "a link to skipped node \(gone.0)")
                continue
            }
            let parsed: [Endpoint?] = named.map { n in
                n.flatMap { node, ifname, em, el in
                    c.check {
                        var ep = try ends.take(node, ifname, line: el)
                        if let m = em?["mac"] { ep.mac = try mac(m) }
                        return ep
                    }
                }
            }
            // An endpoint's own error says enough about its link.
            let checked = parsed.compactMap { $0 }
            guard checked.count == 2, var link = c.check({ try Link(checked, line: l) }) else { continue }
            if let v = m["mtu"] { link.mtu = c.check { try mtu(v) } }
            t.links.append(link)
        }
        return t
    }
}

import Foundation
import Shaping
import VFWireTypes

/// A running topology's link ends, for shaping and measuring them: the namespace each lives
/// in, the impairments `up` puts there from the file and `topo netem` at run time, and the two
/// ends a `topo probe` runs between.
extension Runner {
    /// The network namespace of a node on this host, as a path: a netns node's own, or its
    /// container's.
    public func namespace(of node: Topology.Node) throws -> String {
        let notRunning = TopologyError(line: nil, message: "node \(node.name) is not running on this host: run topo up first")
        switch node.runtime {
        case .netns:
            let path = "/run/netns/" + hostName(node.name)
            guard FileManager.default.fileExists(atPath: path) else { throw notRunning }
            return path
        case .podman, .docker:
            // The container's init holds its namespace; a stopped container reports PID 0.
            let pid = try? run([node.runtime.rawValue, "container", "inspect", "--format", "{{.State.Pid}}", hostName(node.name)], capture: true)
            guard let pid, let n = Int32(pid.trimmingCharacters(in: .whitespacesAndNewlines)), n > 0 else { throw notRunning }
            return "/proc/\(n)/ns/net"
        }
    }

    public func node(named name: String) throws -> Topology.Node {
        guard let n = topo.nodes.first(where: { $0.name == name }) else {
            throw TopologyError(line: nil, message: "topology \(topo.name) has no node \(name) (its nodes: \(topo.nodes.map(\.name).joined(separator: ", ")))")
        }
        return n
    }

    /// The kernel link end NODE:IFACE names, and its node.
    public func end(_ text: String) throws -> (Topology.Node, Plan.PlannedEnd) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw TopologyError(line: nil, message: "'\(text)' is not NODE:IFACE, e.g. a:eth1") }
        let n = try node(named: parts[0])
        let ends = plan.ends(of: n.name).map(\.0)
        guard let e = ends.first(where: { $0.ifname.value == parts[1] }) else {
            throw TopologyError(line: nil, message: "\(text) is no link end of topology \(topo.name) (\(n.name)'s ends: "
                + (ends.isEmpty ? "none" : ends.map(\.ifname.value).joined(separator: ", ")) + ")")
        }
        guard e.mode == .kernel else {
            throw TopologyError(line: nil, message: "\(text) is a vfio end: its packets bypass the kernel, so no qdisc can shape them; "
                + "max_tx_rate in the file limits its VF")
        }
        return (n, e)
    }

    /// Puts each shaped end's impairments on its egress, and leaves an end that has them already
    /// alone, so a second `up` changes nothing. Returns what it could not set, one line per end:
    /// `up` reports them once everything else is up.
    func shape(_ ends: [(Plan.PlannedEnd, Plan.PlannedLink)]) -> [String] {
        var failed: [String] = []
        for (e, l) in ends where !e.impairment.isNone {
            let what = "link \(l.index + 1) \(e.node):\(e.ifname)"
            do {
                let ns = try namespace(of: node(named: e.node))
                if try Shaper.show(namespace: ns, interface: e.ifname.value).flags != e.impairment.flags {
                    try Shaper.set(namespace: ns, interface: e.ifname.value, e.impairment)
                }
                say("\(what): \(e.impairment.flags)")
            } catch {
                failed.append("\(what) is up but not shaped as the file says (\(e.impairment.flags)): \(error)")
            }
        }
        return failed
    }

    /// `topo netem set`: replaces what the end's egress had, as containerlab's does.
    public func setImpairment(_ end: String, _ want: Impairment) throws {
        let (n, e) = try self.end(end)
        try Shaper.set(namespace: namespace(of: n), interface: e.ifname.value, want)
    }

    /// `topo netem show`: one line per end, `NODE:IFACE` and the flags `set` takes. Without an
    /// end, every kernel end of the nodes running on this host.
    public func showImpairments(_ end: String?) throws -> String {
        var rows: [(Topology.Node, Plan.PlannedEnd, String)] = []
        if let end {
            let (n, e) = try self.end(end)
            rows = [(n, e, try namespace(of: n))]
        } else {
            for n in nodes {
                guard let ns = try? namespace(of: n) else { continue }
                rows += plan.ends(of: n.name).map(\.0).filter { $0.mode == .kernel }.map { (n, $0, ns) }
            }
            if rows.isEmpty { throw TopologyError(line: nil, message: "no node of topology \(topo.name) is running on this host: run topo up first") }
        }
        return try rows.map { n, e, ns in "\(n.name):\(e.ifname) \(try Shaper.show(namespace: ns, interface: e.ifname.value).flags)\n" }.joined()
    }

    /// Where `topo probe FROM TO` runs: from FROM's namespace to TO's address on the first link
    /// between them or, when they are no neighbours, TO's first link address, reached through
    /// the routes the plan gave FROM. Both nodes must run on this host: the reflector runs in TO.
    public func probeTarget(from: String, to: String) throws -> (from: String, to: String, address: String) {
        let a = try node(named: from), b = try node(named: to)
        guard a.name != b.name else { throw TopologyError(line: nil, message: "topo probe needs two different nodes") }
        // A vfio end has no kernel interface, so no address to answer on.
        let direct = plan.links.lazy.filter { $0.a.node == a.name || $0.b.node == a.name }.flatMap { [$0.a, $0.b] }
            .first { $0.node == b.name && $0.mode == .kernel }
        guard let target = direct ?? plan.ends(of: b.name).map(\.0).first(where: { $0.mode == .kernel }) else {
            throw TopologyError(line: nil, message: "node \(b.name) has no kernel link end to answer on (vfio ends have no address in the node)")
        }
        return (try namespace(of: a), try namespace(of: b), target.address.ip)
    }
}

/// The topology as a picture: Graphviz DOT or Mermaid, one box per host, a labelled edge per link.
extension Plan {
    public func dot() -> String {
        var out = "graph \"\(topology.name)\" {\n  node [shape=box];\n"
        let byHost = Dictionary(grouping: topology.nodes) { $0.host ?? "" }
        for (i, host) in byHost.keys.sorted().enumerated() {
            let names = byHost[host]!.map { "\"\($0.name)\";" }.joined(separator: " ")
            out += host.isEmpty ? "  \(names)\n" : "  subgraph cluster_\(i) { label=\"\(host)\"; \(names) }\n"
        }
        for l in links {
            out += "  \"\(l.a.node)\" -- \"\(l.b.node)\" [label=\"vlan \(l.vlan)\", taillabel=\"\(l.a.ifname)\", headlabel=\"\(l.b.ifname)\"];\n"
        }
        return out + "}\n"
    }

    public func mermaid() -> String {
        var out = "graph LR\n"
        let byHost = Dictionary(grouping: topology.nodes) { $0.host ?? "" }
        for host in byHost.keys.sorted() {
            let nodes = byHost[host]!.map { "    \($0.name)[\($0.name)]" }.joined(separator: "\n")
            out += host.isEmpty ? nodes + "\n" : "  subgraph \(host)\n\(nodes)\n  end\n"
        }
        for l in links {
            out += "  \(l.a.node) ---|\"\(l.a.ifname) vlan \(l.vlan) \(l.b.ifname)\"| \(l.b.node)\n"
        }
        return out
    }
}

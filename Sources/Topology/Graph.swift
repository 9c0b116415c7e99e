import Foundation
import Subprocess

/// The topology as a picture: Graphviz DOT or Mermaid, one box per host, a labelled edge per link.
extension Plan {
    /// circo when the links form one ring, so that a ring is drawn as a ring; neato (spring
    /// layout) for every other shape, which keeps meshes and lines untangled.
    public var layout: String {
        let nodes = Set(links.flatMap { [$0.a.node, $0.b.node] })
        var degree: [String: Int] = [:]
        for l in links { degree[l.a.node, default: 0] += 1; degree[l.b.node, default: 0] += 1 }
        let ring = nodes.count >= 3 && links.count == nodes.count && degree.values.allSatisfy { $0 == 2 }
            && nodes.count == topology.nodes.count && connected(nodes)
        return ring ? "circo" : "neato"
    }

    func connected(_ nodes: Set<String>) -> Bool {
        guard let first = nodes.first else { return true }
        var seen: Set<String> = [first], queue = [first]
        while let n = queue.popLast() {
            for l in links where l.a.node == n || l.b.node == n {
                let o = l.a.node == n ? l.b.node : l.a.node
                if seen.insert(o).inserted { queue.append(o) }
            }
        }
        return seen == nodes
    }

    public func dot() -> String {
        var out = "graph \"\(topology.name)\" {\n  graph [layout=\(layout), overlap=false, splines=true];\n  node [shape=box];\n  edge [fontsize=10];\n"
        let byHost = Dictionary(grouping: topology.nodes) { $0.host ?? "" }
        for (i, host) in byHost.keys.sorted().enumerated() {
            let names = byHost[host]!.map { "\"\($0.name)\";" }.joined(separator: " ")
            out += host.isEmpty ? "  \(names)\n" : "  subgraph cluster_\(i) { label=\"\(host)\"; \(names) }\n"
        }
        func end(_ e: PlannedEnd) -> String { "\(e.ifname)\\n\(e.address)" + (e.mode == .vfio ? "\\nvfio" : "") }
        for l in links {
            out += "  \"\(l.a.node)\" -- \"\(l.b.node)\" [label=\"vlan \(l.vlan)\", taillabel=\"\(end(l.a))\", headlabel=\"\(end(l.b))\"];\n"
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

    static func requireDot(for flag: String) throws {
        let search = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        guard search.contains(where: { access("\($0)/dot", X_OK) == 0 }) else {
            throw TopologyError(line: nil, message: "--\(flag) needs Graphviz's dot, which is not installed: apt-get install graphviz (or print DOT without --\(flag))")
        }
    }

    /// Renders the DOT picture to `path` through Graphviz's `dot` (`format` svg or png).
    public func picture(_ format: String, to path: String) throws {
        try Self.requireDot(for: format)
        let source = path + ".dot.tmp"
        let err = path + ".err.tmp"
        defer { unlink(source); unlink(err) }
        try dot().write(toFile: source, atomically: false, encoding: .utf8)
        let exit = try Child(tool: ["dot", "-T" + format, "-o", path, source], stderrFile: err).wait()
        guard exit.status == 0 else {
            let why = (try? String(contentsOfFile: err, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            throw TopologyError(line: nil, message: "dot -T\(format) failed (exit code \(exit.status)): \(why)")
        }
    }

    /// One page that needs nothing else: the picture as inline SVG, and the plan's link ends
    /// as a table. Everything in it is a CNI identifier, an address or a number: nothing to escape.
    public func html(to path: String) throws {
        try Self.requireDot(for: "html")
        let svgPath = path + ".svg.tmp"
        defer { unlink(svgPath) }
        try picture("svg", to: svgPath)
        let svg = try String(contentsOfFile: svgPath, encoding: .utf8)
        // The XML prolog and DOCTYPE belong to a file of its own, not to a page.
        let inline = svg.range(of: "<svg").map { String(svg[$0.lowerBound...]) } ?? svg
        var rows = ""
        for l in links {
            for e in [l.a, l.b] {
                rows += "<tr><td>\(l.index + 1)</td><td>\(l.vlan)</td><td>\(e.node)</td><td>\(e.ifname)</td><td>\(e.mac)</td><td>\(e.address)</td><td>\(e.mode.rawValue)</td></tr>\n"
            }
        }
        let page = """
        <!DOCTYPE html>
        <html><head><meta charset="utf-8"><title>\(topology.name)</title>
        <style>body{font-family:sans-serif} table{border-collapse:collapse} td,th{border:1px solid #999;padding:2px 6px}</style>
        </head><body><h1>\(topology.name)</h1>
        \(inline)
        <table><tr><th>link</th><th>vlan</th><th>node</th><th>interface</th><th>mac</th><th>address</th><th>mode</th></tr>
        \(rows)</table></body></html>

        """
        try page.write(toFile: path, atomically: true, encoding: .utf8)
    }
}

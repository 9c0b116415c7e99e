import Foundation
import VFWireTypes
import Yams

extension Topology {
    /// Parses and checks a topology file. Every problem names its line.
    public static func parse(_ text: String) throws -> Topology {
        let root: Yams.Node
        do {
            guard let n = try Yams.compose(yaml: text) else { throw TopologyError(line: nil, message: "the file is empty") }
            root = n
        } catch let p as TopologyError { throw p } catch let e as YamlError {
            throw TopologyError(line: nil, message: "not valid YAML: \(e)")
        }
        let top = try mapping(root, "the file")
        var t = Topology(name: "", defaults: Defaults(), nodes: [], links: [])
        try allowOnly(top, ["name", "defaults", "nodes", "links"], in: "the file")
        guard let nameNode = top["name"], let name = nameNode.string, CNIIdentifier(name) != nil, name.utf8.count <= 20 else {
            throw TopologyError(line: top["name"]?.mark?.line ?? root.mark?.line, message: "name must be a topology name of at most 20 letters, digits, '-', '_' or '.'")
        }
        t.name = name

        if let d = top["defaults"] {
            let m = try mapping(d, "defaults")
            try allowOnly(m, ["pf", "mtu", "vlans", "addresses", "runtime", "image"], in: "defaults")
            if let pf = m["pf"] {
                let names = pf.sequence.map { Array($0) } ?? [pf]
                t.defaults.pfs = try names.map { n in
                    guard let s = n.string, let i = InterfaceName(s) else { throw TopologyError(line: line(n), message: "pf must be an interface name or a list of them") }
                    return i
                }
            }
            if let mtu = m["mtu"] {
                guard let v = mtu.int, (68...65535).contains(v) else { throw TopologyError(line: line(mtu), message: "mtu must be 68-65535") }
                t.defaults.mtu = v
            }
            if let v = m["vlans"] {
                let parts = (v.string ?? "").split(separator: "-").compactMap { Int($0) }
                guard parts.count == 2, parts[0] >= 1, parts[1] <= 4094, parts[0] <= parts[1] else {
                    throw TopologyError(line: line(v), message: "vlans must be a range like 100-199 within 1-4094")
                }
                t.defaults.vlans = parts[0]...parts[1]
            }
            if let a = m["addresses"] {
                guard let s = a.string, let p = IPv4Prefix(s) else { throw TopologyError(line: line(a), message: "addresses must be an IPv4 prefix like 198.18.0.0/16 (/8 to /30)") }
                t.defaults.addresses = p
            }
            if let r = m["runtime"] { t.defaults.runtime = try runtime(r) }
            t.defaults.image = m["image"]?.string
        }

        guard let nodesNode = top["nodes"] else { throw TopologyError(line: line(root), message: "nodes are missing") }
        for (k, v) in try mapping(nodesNode, "nodes") {
            guard let n = k.string, CNIIdentifier(n) != nil, n.utf8.count <= 20 else {
                throw TopologyError(line: line(k), message: "node name '\(k.string ?? "")' must be at most 20 letters, digits, '-', '_' or '.'")
            }
            if t.nodes.contains(where: { $0.name == n }) { throw TopologyError(line: line(k), message: "node \(n) is defined twice") }
            var node = Node(name: n, runtime: t.defaults.runtime, image: t.defaults.image, host: nil, cmd: [], line: line(k) ?? 0)
            if case .mapping(let m) = v {
                try allowOnly(m, ["runtime", "image", "rootfs", "host", "cmd"], in: "node \(n)")
                if let r = m["runtime"] { node.runtime = try runtime(r) }
                if let i = m["image"]?.string ?? m["rootfs"]?.string { node.image = i }
                node.host = m["host"]?.string
                if let c = m["cmd"] { node.cmd = c.sequence.map { $0.compactMap(\.string) } ?? (c.string.map { [$0] } ?? []) }
            } else if v.null == nil, v.string != "" {
                throw TopologyError(line: line(v), message: "node \(n) must be a mapping (or empty)")
            }
            if node.runtime != .netns && node.image == nil {
                throw TopologyError(line: node.line, message: "node \(n) runs on \(node.runtime.rawValue) and needs an image")
            }
            t.nodes.append(node)
        }
        if t.nodes.isEmpty { throw TopologyError(line: line(nodesNode), message: "there are no nodes") }

        var used: [String: Int] = [:]
        var vlans: [Int: Int] = [:]
        for item in try sequence(top["links"] ?? .sequence(.init([])), "links") {
            let m = try mapping(item, "a link")
            try allowOnly(m, ["endpoints", "vlan", "mac", "addresses"], in: "a link")
            let l = line(item) ?? 0
            guard let eps = m["endpoints"]?.sequence, eps.count == 2 else {
                throw TopologyError(line: l, message: "a link needs endpoints: [\"node:ifname\", \"node:ifname\"]")
            }
            let macs = try m["mac"].map { try sequence($0, "mac") }
            let addrs = try m["addresses"].map { try sequence($0, "addresses") }
            if let macs, macs.count != 2 { throw TopologyError(line: line(m["mac"]!), message: "mac needs one MAC per endpoint") }
            if let addrs, addrs.count != 2 { throw TopologyError(line: line(m["addresses"]!), message: "addresses needs one address per endpoint") }
            var ends: [Endpoint] = []
            for (i, e) in eps.enumerated() {
                let el = line(e) ?? l
                let parts = (e.string ?? "").split(separator: ":", maxSplits: 1).map(String.init)
                guard parts.count == 2, let ifname = InterfaceName(parts[1]) else {
                    throw TopologyError(line: el, message: "endpoint '\(e.string ?? "")' must be node:ifname")
                }
                guard t.nodes.contains(where: { $0.name == parts[0] }) else {
                    throw TopologyError(line: el, message: "endpoint \(parts.joined(separator: ":")) names an unknown node \(parts[0])")
                }
                let key = parts[0] + ":" + ifname.value
                if let first = used[key] { throw TopologyError(line: el, message: "endpoint \(key) is used twice (first at line \(first))") }
                used[key] = el
                var ep = Endpoint(node: parts[0], ifname: ifname)
                if let macs {
                    guard let s = macs[i].string, let mac = MACAddress(s), mac.isUsableUnicast else {
                        throw TopologyError(line: line(macs[i]), message: "'\(macs[i].string ?? "")' is not a unicast MAC")
                    }
                    ep.mac = mac
                }
                if let addrs {
                    guard let s = addrs[i].string, let a = IPv4Interface(s), a.length <= 30 else {
                        throw TopologyError(line: line(addrs[i]), message: "'\(addrs[i].string ?? "")' is not an IPv4 address/prefix like 198.18.1.1/30")
                    }
                    ep.address = a
                }
                ends.append(ep)
            }
            if ends[0].node == ends[1].node { throw TopologyError(line: l, message: "a link joins node \(ends[0].node) to itself") }
            var link = Link(a: ends[0], b: ends[1], vlan: nil, line: l)
            if let v = m["vlan"] {
                guard let id = v.int, t.defaults.vlans.contains(id), let vlan = VLAN(id) else {
                    throw TopologyError(line: line(v), message: "vlan \(v.string ?? "") is out of the range \(t.defaults.vlans.lowerBound)-\(t.defaults.vlans.upperBound)")
                }
                if let first = vlans[id] { throw TopologyError(line: line(v), message: "vlan \(id) is used by another link (line \(first)): each link is its own segment") }
                vlans[id] = line(v)
                link.vlan = vlan
            }
            t.links.append(link)
        }
        return t
    }

    static func line(_ n: Yams.Node) -> Int? { n.mark.map { $0.line } }

    static func mapping(_ n: Yams.Node, _ what: String) throws -> Yams.Node.Mapping {
        guard case .mapping(let m) = n else { throw TopologyError(line: line(n), message: "\(what) must be a mapping") }
        return m
    }

    static func sequence(_ n: Yams.Node, _ what: String) throws -> [Yams.Node] {
        guard case .sequence(let s) = n else { throw TopologyError(line: line(n), message: "\(what) must be a list") }
        return Array(s)
    }

    static func allowOnly(_ m: Yams.Node.Mapping, _ keys: Set<String>, in what: String) throws {
        for k in m.keys where !keys.contains(k.string ?? "") {
            throw TopologyError(line: line(k), message: "unknown key '\(k.string ?? "")' in \(what) (allowed: \(keys.sorted().joined(separator: ", ")))")
        }
    }

    static func runtime(_ n: Yams.Node) throws -> Runtime {
        guard let s = n.string, let r = Runtime(rawValue: s) else { throw TopologyError(line: line(n), message: "runtime must be netns, podman or docker") }
        return r
    }
}

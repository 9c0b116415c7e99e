import Foundation
import VFWireTypes
import Yams

extension Topology {
    /// What the command line adds to a file: a containerlab file must stay valid for
    /// containerlab, so vfwire's own settings have no place in it.
    public struct Options: Sendable {
        public var pfs: [InterfaceName] = []
        public var runtime: Runtime?
        public var ignoreUnsupported = false
        /// Relative bind sources are relative to the file, as containerlab reads them.
        public var directory = "."
        public init() {}
    }

    /// Parses and checks a topology file, vfwire's own or containerlab's (`topology:` at the
    /// top). Every problem names its line, and all of them are reported at once.
    public static func parse(_ text: String, options: Options = Options()) throws -> Topology {
        let root: Yams.Node
        do {
            guard let n = try Yams.compose(yaml: text) else { throw TopologyError(line: nil, message: "the file is empty") }
            root = n
        } catch let p as TopologyError { throw p } catch let e as YamlError {
            throw TopologyError(line: nil, message: "not valid YAML: \(e)")
        }
        let top = try mapping(root, "the file")
        let c = Collector(ignoreUnsupported: options.ignoreUnsupported, directory: options.directory)
        var t = top["topology"] != nil ? containerlab(top, root, c) : native(top, root, c)
        if !options.pfs.isEmpty { t.defaults.pfs = options.pfs }
        if let r = options.runtime { for i in t.nodes.indices { t.nodes[i].runtime = r } }
        for n in t.nodes where n.runtime != .netns && n.image == nil {
            c.error(n.line, "node \(n.name) runs on \(n.runtime.rawValue) and needs an image")
        }
        for l in t.links {
            for e in [l.a, l.b] where e.mode == .vfio && t.nodes.first(where: { $0.name == e.node })?.runtime == .podman {
                // podman's hooks.d hook runs after runc made the device cgroup: too late for /dev/vfio.
                c.error(l.line, "endpoint \(e.node):\(e.ifname) is vfio on a podman node: vfio needs the runtime wrapper, "
                    + "which topo does not combine with the hooks.d hook; run that node on docker (--runtime vfwire) or netns")
            }
        }
        for e in t.tunnelProblems() { c.error(e.line, e.message) }
        t.checkPlacements(c)
        if t.nodes.isEmpty && c.errors.isEmpty { c.error(line(root), "there are no nodes") }
        // Sections are read in a fixed order, not the file's: sort, keeping equal lines in order.
        let ordered = c.errors.enumerated().sorted { ($0.element.line ?? .max, $0.offset) < ($1.element.line ?? .max, $1.offset) }
        if !ordered.isEmpty { throw TopologyProblems(errors: ordered.map(\.element)) }
        t.warnings = c.warnings
        return t
    }

    /// vfwire's own format: `name`, `defaults`, `nodes`, `links`.
    static func native(_ top: Yams.Node.Mapping, _ root: Yams.Node, _ c: Collector) -> Topology {
        var t = Topology(name: "", defaults: Defaults(), nodes: [], links: [])
        c.allowOnly(top, ["name", "defaults", "nodes", "links", "hosts"], in: "the file")
        if let h = top["hosts"] { t.hosts = hosts(h, c) }
        c.check { t.name = try name(top, root) }
        if let d = top["defaults"], let m = c.check({ try mapping(d, "defaults") }) {
            c.allowOnly(m, ["pf", "pairs", "mtu", "vlans", "addresses", "runtime", "image"], in: "defaults")
            if let pf = m["pf"] {
                let names = pf.sequence.map { Array($0) } ?? [pf]
                c.check {
                    t.defaults.pfs = try names.map { n in
                        guard let s = n.string, let i = InterfaceName(s) else { throw TopologyError(line: line(n), message: "pf must be an interface name or a list of them") }
                        return i
                    }
                }
            }
            if let p = m["pairs"] { t.defaults.pairs = pairs(p, c) }
            if let v = m["mtu"] { c.check { t.defaults.mtu = try mtu(v) } }
            if let v = m["vlans"] {
                let parts = (v.string ?? "").split(separator: "-").compactMap { Int($0) }
                if parts.count == 2, parts[0] >= 1, parts[1] <= 4094, parts[0] <= parts[1] { t.defaults.vlans = parts[0]...parts[1] } else {
                    c.error(line(v), "vlans must be a range like 100-199 within 1-4094")
                }
            }
            if let a = m["addresses"] {
                if let s = a.string, let p = IPv4Prefix(s) { t.defaults.addresses = p } else {
                    c.error(line(a), "addresses must be an IPv4 prefix like 198.18.0.0/16 (/8 to /30)")
                }
            }
            if let r = m["runtime"] { c.check { t.defaults.runtime = try runtime(r) } }
            t.defaults.image = m["image"]?.string
        }

        guard let nodesNode = top["nodes"] else { c.error(line(root), "nodes are missing"); return t }
        for (k, v) in c.check({ try mapping(nodesNode, "nodes") }) ?? Yams.Node.Mapping([]) {
            guard let n = c.check({ try nodeName(k, t.nodes) }) else { continue }
            var node = Node(name: n, runtime: t.defaults.runtime, image: t.defaults.image, host: nil, cmd: [], line: line(k) ?? 0)
            if case .mapping(let m) = v {
                c.allowOnly(m, ["runtime", "image", "rootfs", "host", "cmd", "env", "binds", "exec"], in: "node \(n)")
                if let r = m["runtime"] { c.check { node.runtime = try runtime(r) } }
                if let i = m["image"]?.string ?? m["rootfs"]?.string { node.image = i }
                node.host = m["host"]?.string
                c.containerSettings([m], into: &node)
            } else if v.null == nil, v.string != "" {
                c.error(line(v), "node \(n) must be a mapping (or empty)")
            }
            t.nodes.append(node)
        }

        var ends = EndpointBook(nodes: Set(t.nodes.map(\.name)))
        var vlans: [Int: Int] = [:]
        for item in c.check({ try sequence(top["links"] ?? .sequence(.init([])), "links") }) ?? [] {
            guard let m = c.check({ try mapping(item, "a link") }) else { continue }
            c.allowOnly(m, ["endpoints", "vlan", "mac", "addresses", "mtu", "mode", "kind", "placement"], in: "a link")
            let l = line(item) ?? 0
            guard let eps = m["endpoints"]?.sequence, eps.count == 2 else {
                c.error(l, "a link needs endpoints: [\"node:ifname\", \"node:ifname\"]"); continue
            }
            let macs = c.check { try m["mac"].map { try perEndpoint($0, "mac", "one MAC per endpoint") } } ?? nil
            let addrs = c.check { try m["addresses"].map { try perEndpoint($0, "addresses", "one address per endpoint") } } ?? nil
            let modes = c.check { try m["mode"].map { $0.sequence == nil ? [$0, $0] : try perEndpoint($0, "mode", "one mode per endpoint") } } ?? nil
            let parsed: [Endpoint?] = eps.enumerated().map { i, e in
                c.check {
                    let parts = (e.string ?? "").split(separator: ":", maxSplits: 1).map(String.init)
                    guard parts.count == 2 else { throw TopologyError(line: line(e) ?? l, message: "endpoint '\(e.string ?? "")' must be node:ifname") }
                    var ep = try ends.take(parts[0], parts[1], line: line(e) ?? l)
                    if let macs { ep.mac = try mac(macs[i]) }
                    if let addrs {
                        guard let s = addrs[i].string, let a = IPv4Interface(s), a.length <= 30 else {
                            throw TopologyError(line: line(addrs[i]), message: "'\(addrs[i].string ?? "")' is not an IPv4 address/prefix like 198.18.1.1/30")
                        }
                        ep.address = a
                    }
                    if let modes {
                        guard let s = modes[i].string, let mode = VFMode(rawValue: s) else {
                            throw TopologyError(line: line(modes[i]), message: "mode must be kernel or vfio")
                        }
                        ep.mode = mode
                    }
                    return ep
                }
            }
            // An endpoint's own error says enough about its link.
            let checked = parsed.compactMap { $0 }
            guard checked.count == 2, var link = c.check({ try Link(checked, line: l) }) else { continue }
            if let v = m["mtu"] { link.mtu = c.check { try mtu(v) } }
            if let v = m["kind"], let k = c.check({ try linkKind(v) }) { link.kind = k }
            if let v = m["placement"] { link.placement = c.check { try placement(v) } }
            if let v = m["vlan"] {
                guard let id = decimal(v), t.defaults.vlans.contains(id), let vlan = VLAN(id) else {
                    c.error(line(v), "vlan \(v.string ?? "") is out of the range \(t.defaults.vlans.lowerBound)-\(t.defaults.vlans.upperBound)"); continue
                }
                if let first = vlans[id] { c.error(line(v), "vlan \(id) is used by another link (line \(first)): each link is its own segment"); continue }
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

    static func perEndpoint(_ n: Yams.Node, _ key: String, _ needs: String) throws -> [Yams.Node] {
        let s = try sequence(n, key)
        guard s.count == 2 else { throw TopologyError(line: line(n), message: "\(key) needs \(needs)") }
        return s
    }

    static func name(_ top: Yams.Node.Mapping, _ root: Yams.Node) throws -> String {
        guard let nameNode = top["name"], let name = nameNode.string, CNIIdentifier(name) != nil, name.utf8.count <= 20 else {
            throw TopologyError(line: top["name"].flatMap(line) ?? line(root), message: "name must be a topology name of at most 20 letters, digits, '-', '_' or '.'")
        }
        return name
    }

    static func nodeName(_ k: Yams.Node, _ nodes: [Node]) throws -> String {
        guard let n = k.string, CNIIdentifier(n) != nil, n.utf8.count <= 20 else {
            throw TopologyError(line: line(k), message: "node name '\(k.string ?? "")' must be at most 20 letters, digits, '-', '_' or '.'")
        }
        if nodes.contains(where: { $0.name == n }) { throw TopologyError(line: line(k), message: "node \(n) is defined twice") }
        return n
    }

    static func mac(_ n: Yams.Node) throws -> MACAddress {
        guard let s = n.string, let mac = MACAddress(s), mac.isUsableUnicast else {
            throw TopologyError(line: line(n), message: "'\(n.string ?? "")' is not a unicast MAC")
        }
        return mac
    }

    /// A plain decimal integer. Yams's own `int` also reads YAML 1.1's base-60 form
    /// ("90000:00:40") and traps when that overflows, so a typo would crash the tool.
    static func decimal(_ n: Yams.Node) -> Int? { n.scalar.flatMap { Int($0.string) } }

    static func mtu(_ n: Yams.Node) throws -> Int {
        guard let v = decimal(n), (68...65535).contains(v) else { throw TopologyError(line: line(n), message: "mtu must be 68-65535") }
        return v
    }

    static func runtime(_ n: Yams.Node) throws -> Runtime {
        guard let s = n.string, let r = Runtime(rawValue: s) else { throw TopologyError(line: line(n), message: "runtime must be netns, podman or docker") }
        return r
    }

    /// Words of a command given as one string, as a shell splits them (quotes, no expansion).
    static func words(_ s: String) -> [String] {
        var out: [String] = [], cur = "", quote: Character?, inWord = false
        for ch in s {
            if let q = quote {
                if ch == q { quote = nil } else { cur.append(ch) }
            } else if ch == "\"" || ch == "'" {
                quote = ch; inWord = true
            } else if ch == " " || ch == "\t" || ch == "\n" {
                if inWord { out.append(cur); cur = ""; inWord = false }
            } else {
                cur.append(ch); inWord = true
            }
        }
        if inWord { out.append(cur) }
        return out
    }
}

extension Topology.Link {
    /// A link of two checked endpoints, on two different nodes.
    init(_ ok: [Topology.Endpoint], line: Int) throws {
        if ok[0].node == ok[1].node { throw TopologyError(line: line, message: "a link joins node \(ok[0].node) to itself") }
        self.init(a: ok[0], b: ok[1], vlan: nil, placement: nil, line: line)
    }
}

/// The endpoints of a file so far: each names a known node, once.
struct EndpointBook {
    var nodes: Set<String>
    var used: [String: Int] = [:]

    mutating func take(_ node: String, _ ifText: String, line: Int) throws -> Topology.Endpoint {
        guard let ifname = InterfaceName(ifText) else {
            throw TopologyError(line: line, message: "endpoint \(node):\(ifText): '\(ifText)' is not an interface name")
        }
        guard nodes.contains(node) else {
            throw TopologyError(line: line, message: "endpoint \(node):\(ifname) names an unknown node \(node)")
        }
        let key = node + ":" + ifname.value
        if let first = used[key] { throw TopologyError(line: line, message: "endpoint \(key) is used twice (first at line \(first))") }
        used[key] = line
        return Topology.Endpoint(node: node, ifname: ifname)
    }
}

/// Gathers every problem of a file instead of stopping at the first, and decides what an
/// unsupported key is: an error, or with --ignore-unsupported a warning.
final class Collector {
    var errors: [TopologyError] = []
    var warnings: [String] = []
    let ignoreUnsupported: Bool
    let directory: String

    init(ignoreUnsupported: Bool, directory: String) { self.ignoreUnsupported = ignoreUnsupported; self.directory = directory }

    func error(_ line: Int?, _ message: String) { errors.append(TopologyError(line: line, message: message)) }

    @discardableResult
    func check<T>(_ body: () throws -> T) -> T? {
        do { return try body() } catch let e as TopologyError { errors.append(e) } catch { errors.append(TopologyError(line: nil, message: "\(error)")) }
        return nil
    }

    func unsupported(_ line: Int?, _ what: String) {
        if ignoreUnsupported {
            warnings.append(TopologyError(line: line, message: what + "; skipped").description)
        } else {
            error(line, what + " (remove it, or skip it with --ignore-unsupported)")
        }
    }

    func allowOnly(_ m: Yams.Node.Mapping, _ keys: Set<String>, in what: String) {
        for k in m.keys where !keys.contains(k.string ?? "") {
            error(Topology.line(k), "unknown key '\(k.string ?? "")' in \(what) (allowed: \(keys.sorted().joined(separator: ", ")))")
        }
    }

    /// `cmd`, `exec`, `env` and `binds` of a node from its layers, most specific first: the
    /// first layer that has a key gives it, except `env`, whose variables merge.
    func containerSettings(_ layers: [Yams.Node.Mapping], into node: inout Topology.Node) {
        func first(_ key: String) -> Yams.Node? { layers.lazy.compactMap { $0[key] }.first }
        if let c = first("cmd") { node.cmd = c.sequence.map { $0.compactMap(\.string) } ?? Topology.words(c.string ?? "") }
        if let e = first("exec") {
            check { node.exec = try Topology.sequence(e, "exec").map { x in
                guard let s = x.string else { throw TopologyError(line: Topology.line(x), message: "exec must be a list of commands") }
                return s
            } }
        }
        for layer in layers.reversed() {
            guard let env = layer["env"] else { continue }
            check {
                for (k, v) in try Topology.mapping(env, "env") {
                    guard let name = k.string, !name.isEmpty, !name.contains("="), let value = v.string else {
                        throw TopologyError(line: Topology.line(k), message: "env must map variable names to values")
                    }
                    node.env[name] = value
                }
            }
        }
        if let b = first("binds") {
            check { node.binds = try Topology.sequence(b, "binds").map { x in
                let parts = (x.string ?? "").split(separator: ":", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty, parts[1].hasPrefix("/") else {
                    throw TopologyError(line: Topology.line(x), message: "bind '\(x.string ?? "")' must be SOURCE:/TARGET[:OPTIONS]")
                }
                return (parts[0].hasPrefix("/") ? parts[0] : directory + "/" + parts[0]) + ":" + parts[1]
            } }
        }
    }
}

import FileSystem
import Subprocess
import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

/// Links between two namespaces for hosts without SR-IOV, or when VFs run out. All but `veth`
/// put their middle (two veth ends, and a bridge or a parent for macvlan) in a namespace of the
/// link's own, so nothing of a link lives in the host's.
public enum LinkKind: String, CaseIterable, Sendable {
    /// One veth pair, end to end.
    case veth
    /// Two veth pairs whose middle ends a tc ingress program stitches with bpf_redirect_peer.
    case ebpf
    /// Two veth pairs whose middle ends tc mirred redirects to each other: ebpf's fallback.
    case mirred
    /// Two veth pairs on a Linux bridge: the emulated NIC's VF data path today.
    case bridge
    /// Two macvlans in bridge mode on one parent.
    case macvlan
}

/// One side of a link: a namespace (a name under /run/netns), the interface's name there and
/// its address with prefix length.
public struct LinkEnd: Sendable, Equatable {
    public var namespace: String
    public var interface: String
    public var cidr: String?

    /// `NETNS:IFACE` or `NETNS:IFACE:ADDRESS/LEN`.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || parts.count == 3, !parts[0].isEmpty, !parts[0].contains("/"),
              InterfaceName(parts[1]) != nil else { return nil }
        namespace = parts[0]; interface = parts[1]
        cidr = parts.count == 3 ? parts[2] : nil
        if let cidr, !cidr.contains("/") { return nil }
    }
}

public enum LinkError: Error, CustomStringConvertible, Sendable {
    case failed(String)
    public var description: String { switch self { case .failed(let m): m } }
}

public enum SoftwareLink {
    /// The middle ends' ifindexes in the link's namespace, as bpf/redirect_peer.c expects them.
    static let leftIndex = 10, rightIndex = 20

    /// The compiled bpf/redirect_peer.c: $VFWIRE_REDIRECT_PEER_OBJ, or where install.sh puts it.
    public static var redirectPeerObject: String {
        getenv("VFWIRE_REDIRECT_PEER_OBJ").map { String(cString: $0) } ?? "/usr/local/lib/vfwire/redirect_peer.o"
    }

    /// The namespace holding a link's middle, named from its two ends so `delete` finds it.
    public static func middle(_ a: LinkEnd, _ b: LinkEnd) -> String {
        let key = [a, b].map { "\($0.namespace):\($0.interface)" }.sorted().joined(separator: "-")
        return "vfwl-" + String(fnv1a(key.utf8) & 0xffff_ffff_ffff, radix: 16)
    }

    public static func create(_ kind: LinkKind, _ a: LinkEnd, _ b: LinkEnd) throws {
        if kind == .ebpf, !FS.exists(redirectPeerObject) {
            throw LinkError.failed("no BPF object at \(redirectPeerObject): build bpf/redirect_peer.c with "
                + "clang -O2 -target bpf -c (install.sh does) or set VFWIRE_REDIRECT_PEER_OBJ")
        }
        // Created under temporary names, so a name already taken in an end's namespace is found
        // when the end is renamed into place, and a failure removes only what this call made.
        let ta = "vfwa" + String(getpid()), tb = "vfwb" + String(getpid())
        var made: [(String, String)] = [(a.namespace, ta), (b.namespace, tb)]
        var middleMade = false
        do { try build(kind, a, b, ta, tb, &made, &middleMade) } catch {
            for (ns, name) in made { _ = try? ip(ns, ["link", "del", name]) }
            if middleMade { _ = try? ip(nil, ["netns", "del", middle(a, b)]) }
            throw error
        }
    }

    static func build(_ kind: LinkKind, _ a: LinkEnd, _ b: LinkEnd, _ ta: String, _ tb: String,
                      _ made: inout [(String, String)], _ middleMade: inout Bool) throws {
        let m = middle(a, b)
        func rename() throws {
            try ip(a.namespace, ["link", "set", ta, "name", a.interface])
            made.append((a.namespace, a.interface))
            try ip(b.namespace, ["link", "set", tb, "name", b.interface])
            made.append((b.namespace, b.interface))
        }
        switch kind {
        case .veth:
            try ip(a.namespace, ["link", "add", ta, "type", "veth", "peer", "name", tb, "netns", b.namespace])
            try rename()
        case .ebpf, .mirred, .bridge:
            try ip(nil, ["netns", "add", m])
            middleMade = true
            try ip(m, ["link", "set", "lo", "up"])
            try ip(m, ["link", "add", "left", "index", String(leftIndex), "type", "veth", "peer", "name", ta, "netns", a.namespace])
            try ip(m, ["link", "add", "right", "index", String(rightIndex), "type", "veth", "peer", "name", tb, "netns", b.namespace])
            try rename()
            for side in ["left", "right"] {
                switch kind {
                case .ebpf:
                    try tc(m, ["qdisc", "add", "dev", side, "clsact"])
                    try tc(m, ["filter", "add", "dev", side, "ingress", "bpf", "direct-action", "obj", redirectPeerObject, "sec", "tc"])
                case .mirred:
                    try tc(m, ["qdisc", "add", "dev", side, "clsact"])
                    try tc(m, ["filter", "add", "dev", side, "ingress", "protocol", "all", "u32", "match", "u32", "0", "0",
                               "action", "mirred", "egress", "redirect", "dev", side == "left" ? "right" : "left"])
                default:
                    if side == "left" { try ip(m, ["link", "add", "switch", "type", "bridge"]); try ip(m, ["link", "set", "switch", "up"]) }
                    try ip(m, ["link", "set", side, "master", "switch"])
                }
                try ip(m, ["link", "set", side, "up"])
            }
        case .macvlan:
            try ip(nil, ["netns", "add", m])
            middleMade = true
            // This kernel has no dummy driver: a veth pair, both ends up, gives the macvlans a parent with carrier.
            try ip(m, ["link", "add", "parent", "type", "veth", "peer", "name", "parent-peer"])
            try ip(m, ["link", "set", "parent", "up"])
            try ip(m, ["link", "set", "parent-peer", "up"])
            try ip(m, ["link", "add", ta, "link", "parent", "type", "macvlan", "mode", "bridge"])
            try ip(m, ["link", "add", tb, "link", "parent", "type", "macvlan", "mode", "bridge"])
            try ip(m, ["link", "set", ta, "netns", a.namespace])
            try ip(m, ["link", "set", tb, "netns", b.namespace])
            try rename()
        }
        for end in [a, b] {
            if let cidr = end.cidr { try ip(end.namespace, ["addr", "add", cidr, "dev", end.interface]) }
            try ip(end.namespace, ["link", "set", end.interface, "up"])
        }
    }

    /// Removes both ends and the link's namespace; what is already gone is no error.
    public static func delete(_ a: LinkEnd, _ b: LinkEnd) {
        for end in [a, b] { _ = try? ip(end.namespace, ["link", "del", end.interface]) }
        if FS.exists("/run/netns/" + middle(a, b)) { _ = try? ip(nil, ["netns", "del", middle(a, b)]) }
    }

    static func ip(_ namespace: String?, _ args: [String]) throws {
        try run(["ip"] + (namespace.map { ["-n", $0] } ?? []) + args)
    }

    static func tc(_ namespace: String, _ args: [String]) throws {
        try run(["ip", "netns", "exec", namespace, "tc"] + args)
    }

    static func run(_ argv: [String]) throws {
        let errFile = "/tmp/vfwire-link.\(getpid()).err"
        defer { unlink(errFile) }
        let r = try Child(tool: argv, stderrFile: errFile).wait()
        guard r.status == 0 else {
            let said = FS.readString(errFile) ?? ""
            throw LinkError.failed("\(argv.joined(separator: " ")): \(said.isEmpty ? "exit \(r.status)" : said)")
        }
    }
}

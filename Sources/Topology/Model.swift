import Foundation
import LinkKinds
import VFWireTypes
import Yams

/// A testbed: nodes, and point-to-point links between them, each link an isolated L2 segment
/// on its own VLAN with a VF at each end.
public struct Topology: Sendable {
    public var name: String
    public var defaults: Defaults
    public var nodes: [Node]
    public var links: [Link]
    /// Per host name, what tunnel links need of it.
    public var hosts: [String: Host] = [:]
    /// What `--ignore-unsupported` skipped, one line each, for the command to print.
    public var warnings: [String] = []

    public struct Defaults: Sendable {
        public var pfs: [InterfaceName] = []
        /// Cabled PF pairs, for links placed on the wire (Placement.swift).
        public var pairs: [PFPair] = []
        public var mtu: Int?
        public var vlans: ClosedRange<Int> = 100...3999
        /// Each link gets the next /30 of this IPv4 prefix, in file order.
        public var addresses = IPv4Prefix(base: 0xC612_0000, length: 16)   // 198.18.0.0/16
        public var runtime: Runtime = .netns
        public var image: String?
    }

    public enum Runtime: String, Sendable { case netns, podman, docker }

    public struct Host: Sendable {
        /// The address tunnels leave this host from, and reach it at.
        public var underlay: IPv4Interface?
        /// The underlay path's MTU, from which a tunnel's is computed.
        public var mtu: Int = 1500
    }

    /// What carries a link: a VF pair on a VLAN, or a tunnel between hosts.
    public enum LinkKind: Sendable, Equatable {
        case vf
        case tunnel(TunnelEnd.Kind)
    }

    public struct Node: Sendable {
        public var name: String
        public var runtime: Runtime
        public var image: String?
        public var host: String?
        public var cmd: [String]
        public var env: [String: String] = [:]
        /// `-v` arguments for a container: SOURCE:TARGET[:OPTIONS], the source absolute.
        public var binds: [String] = []
        /// Shell commands run in the node once its links are attached, as containerlab's `exec`.
        public var exec: [String] = []
        public var line: Int
    }

    public struct Endpoint: Sendable, Hashable {
        public var node: String
        public var ifname: InterfaceName
        public var mac: MACAddress?
        public var address: IPv4Interface?
        public var mode: VFMode = .kernel
    }

    public struct Link: Sendable {
        public var a: Endpoint
        public var b: Endpoint
        public var vlan: VLAN?
        public var mtu: Int?
        public var kind: LinkKind = .vf
        public var placement: PlacementRequest?
        public var line: Int
    }

}

/// What is wrong with a topology, at which line of its file when a line is to blame; or what
/// failed bringing it up or down.
public struct TopologyError: Error, CustomStringConvertible, Sendable {
    public var line: Int?
    public var message: String
    public init(line: Int?, message: String) { self.line = line; self.message = message }
    public var description: String { (line.map { "line \($0): " } ?? "") + message }
}

/// Every problem found in a file, so that one run names them all, in the file's order.
public struct TopologyProblems: Error, CustomStringConvertible, Sendable {
    public var errors: [TopologyError]
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// An IPv4 prefix, for the address plan.
public struct IPv4Prefix: Sendable, Equatable {
    public var base: UInt32
    public var length: Int
    public init(base: UInt32, length: Int) { self.base = base & Self.mask(length); self.length = length }
    public init?(_ text: String) {
        let p = text.split(separator: "/")
        guard p.count == 2, let a = IPv4Interface.parse(String(p[0])), let l = Int(p[1]), (8...30).contains(l) else { return nil }
        self.init(base: a, length: l)
    }
    static func mask(_ l: Int) -> UInt32 { l == 0 ? 0 : ~UInt32(0) << (32 - l) }
    public var size: UInt64 { UInt64(1) << (32 - length) }
    public var description: String { IPv4Interface.format(base) + "/\(length)" }
}

/// An IPv4 address with its prefix length, as CNI writes it.
public struct IPv4Interface: Sendable, Hashable, CustomStringConvertible {
    public var address: UInt32
    public var length: Int
    public init(address: UInt32, length: Int) { self.address = address; self.length = length }
    public init?(_ text: String) {
        let p = text.split(separator: "/")
        guard p.count == 2, let a = Self.parse(String(p[0])), let l = Int(p[1]), (1...32).contains(l) else { return nil }
        address = a; length = l
    }
    static func parse(_ s: String) -> UInt32? {
        let o = s.split(separator: ".", omittingEmptySubsequences: false)
        guard o.count == 4 else { return nil }
        var v: UInt32 = 0
        for x in o { guard let b = UInt8(x) else { return nil }; v = v << 8 | UInt32(b) }
        return v
    }
    static func format(_ v: UInt32) -> String { "\(v >> 24).\(v >> 16 & 255).\(v >> 8 & 255).\(v & 255)" }
    public var ip: String { Self.format(address) }
    public var network: IPv4Prefix { IPv4Prefix(base: address, length: length) }
    public var description: String { ip + "/\(length)" }
}

import VFWireTypes

/// A link end that is a tunnel netdev in a node's namespace, for hosts whose switch carries no
/// VLAN trunk between them. It is made in the namespace of whoever calls (the host's, which
/// holds the underlay address) and moved into the node's, so its socket stays on the underlay.
public struct TunnelEnd: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case vxlan, gretap
        /// What encapsulation over IPv4 adds to each frame: outer IP, then UDP and VXLAN's
        /// header, or GRE with a key, then the inner Ethernet header.
        public var overhead: Int {
            switch self {
            case .vxlan: 20 + 8 + 8 + 14
            case .gretap: 20 + 8 + 14
            }
        }
    }

    public var kind: Kind
    /// A name under /run/netns.
    public var namespace: String
    public var interface: InterfaceName
    public var mac: MACAddress
    public var cidr: String
    public var mtu: Int
    public var local: String
    public var remote: String
    /// The VNI of a vxlan (24 bits), the key of a gretap.
    public var id: UInt32

    public init(kind: Kind, namespace: String, interface: InterfaceName, mac: MACAddress, cidr: String, mtu: Int,
                local: String, remote: String, id: UInt32) {
        self.kind = kind; self.namespace = namespace; self.interface = interface; self.mac = mac; self.cidr = cidr
        self.mtu = mtu; self.local = local; self.remote = remote; self.id = id
    }

    /// IANA's port, rather than Linux's historical default 8472, so other VTEPs interoperate.
    public static let vxlanPort = 4789

    public func create() throws {
        // A temporary name in the host, so a failure leaves nothing under a name a node uses.
        let temp = "vfwt\(id)"
        let args: [String] = switch kind {
        case .vxlan: ["link", "add", temp, "type", "vxlan", "id", "\(id)", "local", local, "remote", remote,
                      "dstport", "\(Self.vxlanPort)"]
        case .gretap: ["link", "add", temp, "type", "gretap", "local", local, "remote", remote, "key", "\(id)"]
        }
        try SoftwareLink.ip(nil, args)
        do {
            try SoftwareLink.ip(nil, ["link", "set", temp, "address", mac.description, "mtu", "\(mtu)", "netns", namespace])
        } catch {
            _ = try? SoftwareLink.ip(nil, ["link", "del", temp])
            throw error
        }
        do {
            try SoftwareLink.ip(namespace, ["link", "set", temp, "name", interface.value])
            try SoftwareLink.ip(namespace, ["addr", "add", cidr, "dev", interface.value])
            try SoftwareLink.ip(namespace, ["link", "set", interface.value, "up"])
        } catch {
            _ = try? SoftwareLink.ip(namespace, ["link", "del", temp])
            _ = try? SoftwareLink.ip(namespace, ["link", "del", interface.value])
            throw error
        }
    }

    /// Whether the node's namespace has it already, so `up` can be repeated.
    public func exists() -> Bool { (try? SoftwareLink.ip(namespace, ["link", "show", interface.value])) != nil }

    public func addRoute(_ dst: String, via: String) throws {
        try SoftwareLink.ip(namespace, ["route", "replace", dst, "via", via, "dev", interface.value])
    }
}

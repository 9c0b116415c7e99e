import JSON
import VFWireTypes

/// A CNI result, held in the 1.x shape. Results of 0.3.x/0.4.0 decode into it (their per-IP
/// `version` is derived again from the address when encoding for those versions).
public struct CNIResult: Codable, Equatable, Sendable {
    public var cniVersion: String?
    public var interfaces: [Interface]?
    public var ips: [IPConfig]?
    public var routes: [Route]?
    public var dns: DNS?

    public init(cniVersion: String? = nil, interfaces: [Interface]? = nil, ips: [IPConfig]? = nil,
                routes: [Route]? = nil, dns: DNS? = nil) {
        self.cniVersion = cniVersion; self.interfaces = interfaces; self.ips = ips
        self.routes = routes; self.dns = dns
    }

    public struct Interface: Codable, Equatable, Sendable {
        public var name: String
        public var mac: String?
        public var mtu: Int?
        public var sandbox: String?
        public var socketPath: String?
        public var pciID: String?
        /// vfwire's: the vfio group device of a VF in vfio mode. Not a spec field, so it is
        /// kept in every version: a consumer that does not know it ignores it.
        public var vfioDevice: String?
        public init(name: String, mac: String? = nil, mtu: Int? = nil, sandbox: String? = nil, pciID: String? = nil,
                    vfioDevice: String? = nil) {
            self.name = name; self.mac = mac; self.mtu = mtu; self.sandbox = sandbox; self.pciID = pciID
            self.vfioDevice = vfioDevice
        }
    }

    public struct IPConfig: Codable, Equatable, Sendable {
        public var address: String
        public var gateway: String?
        public var interface: Int?
        public init(address: String, gateway: String? = nil, interface: Int? = nil) {
            self.address = address; self.gateway = gateway; self.interface = interface
        }
        public var isIPv6: Bool { address.contains(":") }
    }

    public struct Route: Codable, Equatable, Sendable {
        public var dst: String
        public var gw: String?
        public var mtu: Int?
        public var advmss: Int?
        public var priority: Int?
        public var table: Int?
        public var scope: Int?
        public init(dst: String, gw: String? = nil) { self.dst = dst; self.gw = gw }
    }

    public struct DNS: Codable, Equatable, Sendable {
        public var nameservers: [String]?
        public var domain: String?
        public var search: [String]?
        public var options: [String]?
    }

    /// The JSON a runtime expects for `version`: fields that version lacks are left out, and
    /// 0.x results carry the per-IP `version` they require.
    public func encoded(for version: CNIVersion) throws -> [UInt8] {
        var out = self
        out.cniVersion = version.rawValue
        if version < .v1_1_0 {
            out.interfaces = interfaces?.map { i in
                var i = i; i.mtu = nil; i.socketPath = nil; i.pciID = nil; return i
            }
            out.routes = routes?.map { r in
                var r = r; r.mtu = nil; r.advmss = nil; r.priority = nil; r.table = nil; r.scope = nil; return r
            }
        }
        if version >= .v1_0_0 { return try JSON.encode(out) }
        return try JSON.encode(Legacy(out))
    }

    /// 0.3.x/0.4.0 shape: `ips[].version` is required, and `dns` is always present.
    private struct Legacy: Encodable {
        let r: CNIResult
        init(_ r: CNIResult) { self.r = r }
        struct IP: Encodable { let version: String; let address: String; let gateway: String?; let interface: Int? }
        enum K: String, CodingKey { case cniVersion, interfaces, ips, routes, dns }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: K.self)
            try c.encode(r.cniVersion, forKey: .cniVersion)
            try c.encodeIfPresent(r.interfaces, forKey: .interfaces)
            try c.encodeIfPresent(r.ips?.map { IP(version: $0.isIPv6 ? "6" : "4", address: $0.address, gateway: $0.gateway, interface: $0.interface) }, forKey: .ips)
            try c.encodeIfPresent(r.routes, forKey: .routes)
            try c.encode(r.dns ?? DNS(), forKey: .dns)
        }
    }
}

/// How a container gets its VF: as a netdev moved into its namespace, or bound to vfio-pci for
/// a userspace driver (DPDK) or a VM (Kata), which then reaches it through /dev/vfio/N.
public enum VFMode: String, Sendable, Codable {
    case kernel, vfio
}

/// A VLAN ID a VF can be put on; 0 means untagged.
public struct VLAN: Hashable, Sendable, Codable, CustomStringConvertible {
    public let id: UInt16
    public init?(_ id: Int) {
        guard (0...4094).contains(id) else { return nil }
        self.id = UInt16(id)
    }
    public static let untagged = VLAN(0)!
    public var description: String { String(id) }
    public init(from decoder: Decoder) throws {
        let v = try decoder.singleValueContainer().decode(Int.self)
        guard let vlan = VLAN(v) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "VLAN \(v) out of range"))
        }
        self = vlan
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer(); try c.encode(Int(id))
    }
}

/// The tag protocol of a VF VLAN, as ip-link names it.
public enum VLANProto: String, Sendable, Codable, CaseIterable {
    case dot1Q = "802.1Q"
    case dot1ad = "802.1ad"

    /// sriov-cni accepts either case of the q.
    public init?(config text: String) {
        switch text.lowercased() {
        case "802.1q": self = .dot1Q
        case "802.1ad": self = .dot1ad
        default: return nil
        }
    }

    /// The ethertype, in host order as libnl wants it.
    public var ethertype: UInt16 { self == .dot1Q ? 0x8100 : 0x88a8 }

    public init?(ethertype: UInt16) {
        switch ethertype {
        case 0x8100, 0: self = .dot1Q
        case 0x88a8: self = .dot1ad
        default: return nil
        }
    }
}

/// IFLA_VF_LINK_STATE values.
public enum VFLinkState: String, Sendable, Codable, CaseIterable {
    case auto, enable, disable

    public var kernelValue: UInt32 {
        switch self { case .auto: 0; case .enable: 1; case .disable: 2 }
    }

    public init?(kernelValue: UInt32) {
        switch kernelValue { case 0: self = .auto; case 1: self = .enable; case 2: self = .disable; default: return nil }
    }
}

/// The state of one entry of a PF's VF table, as IFLA_VFINFO_LIST reports it.
public struct VFConfig: Equatable, Sendable, Codable {
    public var mac: MACAddress
    public var vlan: VLAN
    public var qos: UInt8
    public var vlanProto: VLANProto
    public var spoofchk: Bool
    public var trust: Bool
    public var minTxRate: UInt32
    public var maxTxRate: UInt32
    public var linkState: VFLinkState

    public init(mac: MACAddress = .zero, vlan: VLAN = .untagged, qos: UInt8 = 0,
                vlanProto: VLANProto = .dot1Q, spoofchk: Bool = true, trust: Bool = false,
                minTxRate: UInt32 = 0, maxTxRate: UInt32 = 0, linkState: VFLinkState = .auto) {
        self.mac = mac; self.vlan = vlan; self.qos = qos; self.vlanProto = vlanProto
        self.spoofchk = spoofchk; self.trust = trust; self.minTxRate = minTxRate
        self.maxTxRate = maxTxRate; self.linkState = linkState
    }
}

/// A change to a VF table entry: only the fields that are set are touched, because a setting
/// the user did not ask for must stay as the driver has it (and some drivers refuse some).
public struct VFChange: Equatable, Sendable, Codable {
    public var mac: MACAddress?
    /// VLAN, QoS and protocol travel together in one IFLA_VF_VLAN(_LIST) attribute.
    public var vlan: VFVLANSetting?
    public var spoofchk: Bool?
    public var trust: Bool?
    /// Rates travel together in IFLA_VF_RATE.
    public var rate: VFRate?
    public var linkState: VFLinkState?

    public init(mac: MACAddress? = nil, vlan: VFVLANSetting? = nil, spoofchk: Bool? = nil,
                trust: Bool? = nil, rate: VFRate? = nil, linkState: VFLinkState? = nil) {
        self.mac = mac; self.vlan = vlan; self.spoofchk = spoofchk; self.trust = trust
        self.rate = rate; self.linkState = linkState
    }

    public var isEmpty: Bool { self == VFChange() }

    /// The settings this change consists of, in the order ip-link applies them: one at a time,
    /// a failure tells exactly which were applied before it.
    public var settings: [VFSetting] {
        var out: [VFSetting] = []
        if let m = mac { out.append(.mac(m)) }
        if let v = vlan { out.append(.vlan(v)) }
        if let r = rate { out.append(.rate(r)) }
        if let s = spoofchk { out.append(.spoofchk(s)) }
        if let t = trust { out.append(.trust(t)) }
        if let l = linkState { out.append(.linkState(l)) }
        return out
    }

    /// This change with `other`'s fields laid over it.
    public func merging(_ other: VFChange) -> VFChange {
        VFChange(mac: other.mac ?? mac, vlan: other.vlan ?? vlan, spoofchk: other.spoofchk ?? spoofchk,
                 trust: other.trust ?? trust, rate: other.rate ?? rate, linkState: other.linkState ?? linkState)
    }

    /// The change that puts back, from `original`, every field this change touches.
    public func undo(from original: VFConfig) -> VFChange {
        VFChange(mac: mac == nil ? nil : original.mac,
                 vlan: vlan == nil ? nil : VFVLANSetting(vlan: original.vlan, qos: original.qos, proto: original.vlanProto),
                 spoofchk: spoofchk == nil ? nil : original.spoofchk,
                 trust: trust == nil ? nil : original.trust,
                 rate: rate == nil ? nil : VFRate(min: original.minTxRate, max: original.maxTxRate),
                 linkState: linkState == nil ? nil : original.linkState)
    }

    /// Whether `config` already shows every field of this change.
    public func isSatisfied(by config: VFConfig) -> [String] {
        var diffs: [String] = []
        if let m = mac, m != config.mac { diffs.append("mac is \(config.mac), want \(m)") }
        if let v = vlan {
            if v.vlan != config.vlan { diffs.append("vlan is \(config.vlan), want \(v.vlan)") }
            if v.qos != config.qos { diffs.append("vlanQoS is \(config.qos), want \(v.qos)") }
            if v.vlan.id != 0 && v.proto != config.vlanProto {
                diffs.append("vlanProto is \(config.vlanProto.rawValue), want \(v.proto.rawValue)")
            }
        }
        if let s = spoofchk, s != config.spoofchk { diffs.append("spoofchk is \(config.spoofchk ? "on" : "off")") }
        if let t = trust, t != config.trust { diffs.append("trust is \(config.trust ? "on" : "off")") }
        if let r = rate {
            if r.min != config.minTxRate { diffs.append("min_tx_rate is \(config.minTxRate), want \(r.min)") }
            if r.max != config.maxTxRate { diffs.append("max_tx_rate is \(config.maxTxRate), want \(r.max)") }
        }
        if let l = linkState, l != config.linkState { diffs.append("link_state is \(config.linkState.rawValue), want \(l.rawValue)") }
        return diffs
    }
}

/// One VF table field, set in a request of its own so that a driver's refusal names exactly
/// the setting it refused.
public enum VFSetting: Sendable, CustomStringConvertible {
    case mac(MACAddress)
    case vlan(VFVLANSetting)
    case rate(VFRate)
    case spoofchk(Bool)
    case trust(Bool)
    case linkState(VFLinkState)

    public var description: String {
        switch self {
        case .mac(let m): "mac \(m)"
        case .vlan(let v): "vlan \(v.vlan) vlanQoS \(v.qos) vlanProto \(v.proto.rawValue)"
        case .rate(let r): "min_tx_rate \(r.min) max_tx_rate \(r.max)"
        case .spoofchk(let s): "spoofchk \(s ? "on" : "off")"
        case .trust(let t): "trust \(t ? "on" : "off")"
        case .linkState(let l): "link_state \(l.rawValue)"
        }
    }

    /// The change that makes this setting and touches nothing else.
    public var change: VFChange {
        switch self {
        case .mac(let m): VFChange(mac: m)
        case .vlan(let v): VFChange(vlan: v)
        case .rate(let r): VFChange(rate: r)
        case .spoofchk(let s): VFChange(spoofchk: s)
        case .trust(let t): VFChange(trust: t)
        case .linkState(let l): VFChange(linkState: l)
        }
    }
}

public struct VFVLANSetting: Equatable, Sendable, Codable {
    public var vlan: VLAN
    public var qos: UInt8
    public var proto: VLANProto
    public init(vlan: VLAN, qos: UInt8 = 0, proto: VLANProto = .dot1Q) {
        self.vlan = vlan; self.qos = qos; self.proto = proto
    }
}

/// Transmit rate limits in Mbps; 0 means no limit.
public struct VFRate: Equatable, Sendable, Codable {
    public var min: UInt32
    public var max: UInt32
    public init(min: UInt32, max: UInt32) { self.min = min; self.max = max }
}

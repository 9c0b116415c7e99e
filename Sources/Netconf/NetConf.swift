import CNIProtocol
import JSON
import VFWireTypes

/// A netconf that is not what vfwire takes: not the JSON it must be, or a value out of range
/// or at odds with another. Every message names the key.
public enum NetconfError: Error, CustomStringConvertible, Sendable {
    case decode(String)
    case invalidConfig(String)
    public var description: String { switch self { case .decode(let m), .invalidConfig(let m): m } }
}

/// A vfwire network configuration, validated. Keys are sriov-cni's so existing configs and
/// Multus keep working; `pf` and `mtu` are ours.
public struct NetConf: CNIConfig, Sendable {
    public var cniVersion: CNIVersion
    public var name: CNIIdentifier
    /// PFs to take a free VF from, in order of preference.
    public var pfs: [InterfaceName]
    /// A VF chosen by someone else (device plugin, user): `runtimeConfig.deviceID` wins.
    public var deviceID: PCIAddress?
    /// The VF table fields asked for. Its MAC is also the container interface's:
    /// runtimeConfig.mac, then CNI_ARGS MAC, then `mac`.
    public var vf: VFRequest
    public var mtu: Int?
    /// nil: kernel mode, unless the VF named by deviceID is already on vfio-pci.
    public var mode: VFMode?
    /// The IPAM plugin's type, already checked to be a plain file name.
    public var ipamType: String?
    public var logLevel: LogLevel
    public var logFile: String?
    public var prevResult: CNIResult?
    /// GC: attachments the runtime still wants.
    public var validAttachments: [Attachment]?
    /// The whole input as an object, for delegating to IPAM.
    public var raw: [String: JSONValue]

    public struct Attachment: Hashable, Sendable {
        public var containerID: String
        public var ifname: String
    }

    public enum LogLevel: String, Sendable, Comparable {
        case panic, error, warning, info, debug
        static let order: [LogLevel] = [.panic, .error, .warning, .info, .debug]
        public static func < (a: LogLevel, b: LogLevel) -> Bool {
            order.firstIndex(of: a)! < order.firstIndex(of: b)!
        }
    }

    /// vfwire's own keys (sriov-cni's names, plus `pf` and `mtu`).
    static let ownKeys: Set<String> = [
        "pf", "deviceID", "mac", "vlan", "vlanQoS", "vlanProto", "spoofchk", "trust", "link_state",
        "min_tx_rate", "max_tx_rate", "mtu", "mode", "logLevel", "logFile",
    ]
    /// What the spec reserves and libcni adds, and what Multus injects into its delegates:
    /// `pciBusID` beside `deviceID` (for host-device) and `args` for its CNI args. `cni.dev/`
    /// keys are the spec's namespace and pass as a prefix.
    static let passedKeys: Set<String> = [
        "cniVersion", "name", "type", "ipam", "dns", "args", "capabilities", "runtimeConfig", "prevResult", "pciBusID",
    ]

    /// A key vfwire does not know is refused: ignoring `"vlna": 100` put a VF on the PF's
    /// native VLAN with nothing to say so.
    static func checkKeys(_ root: [String: JSONValue]) throws(NetconfError) {
        for k in root.keys.sorted() where !ownKeys.contains(k) && !passedKeys.contains(k) && !k.hasPrefix("cni.dev/") {
            let all = ownKeys.union(passedKeys)
            let near = all.map { (key: $0, d: editDistance(k.lowercased(), $0.lowercased())) }
                .min { ($0.d, $0.key) < ($1.d, $1.key) }
            if let near, near.d <= max(2, k.count / 3) {
                throw .invalidConfig("unknown key '\(k)'; did you mean '\(near.key)'?")
            }
            throw .invalidConfig("unknown key '\(k)': vfwire takes \(ownKeys.sorted().joined(separator: ", ")) besides the CNI spec's keys")
        }
    }

    public init(_ netconf: NetconfObject, args: CNIArgs) throws(NetconfError) {
        let root = netconf.object
        try Self.checkKeys(root)
        let r = Reader(root)
        raw = root
        cniVersion = netconf.cniVersion
        guard let n = try r.string("name") else { throw .invalidConfig("name is missing") }
        guard let name = CNIIdentifier(n) else {
            throw .invalidConfig("name '\(n)' must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
        }
        self.name = name

        switch root["pf"] {
        case nil, .null: pfs = []
        case .string(let s): pfs = [try Self.interface(s, key: "pf")]
        case .array(let a):
            pfs = try a.map { (v) throws(NetconfError) in
                guard let s = v.stringValue else { throw .invalidConfig("pf must be an interface name or a list of them") }
                return try Self.interface(s, key: "pf")
            }
            if pfs.isEmpty { throw .invalidConfig("pf is an empty list: name at least one PF") }
            if Set(pfs).count != pfs.count { throw .invalidConfig("pf lists the same PF twice") }
        default: throw .invalidConfig("pf must be an interface name or a list of them")
        }

        let runtime = Reader(try r.object("runtimeConfig") ?? [:], prefix: "runtimeConfig.")
        let runtimeDevice = try runtime.string("deviceID")
        let confDevice = try r.string("deviceID")
        if let d = runtimeDevice ?? confDevice {
            guard let a = PCIAddress(d) else {
                throw .invalidConfig("deviceID '\(d)' is not a PCI address like 0000:3b:02.1")
            }
            deviceID = a
        }

        let runtimeMAC = try runtime.mac("mac")
        let confMAC = try r.mac("mac")
        vf = try VFRequest(r, mac: runtimeMAC ?? args.mac ?? confMAC)
        // A per-container VLAN (from vfwire-hook or a topology) overrides the network's.
        if let id = try runtime.int("vlan", 0...4094) {
            if id == 0 && (vf.vlan?.qos ?? 0) != 0 { throw .invalidConfig("runtimeConfig.vlan 0 cannot carry vlanQoS") }
            vf.vlan = VFVLANSetting(vlan: VLAN(id)!, qos: vf.vlan?.qos ?? 0, proto: vf.vlan?.proto ?? .dot1Q)
        }
        mtu = try r.int("mtu", 68...65535)
        if let m = try r.string("mode") {
            guard let mm = VFMode(rawValue: m) else { throw .invalidConfig("mode '\(m)' must be kernel or vfio") }
            mode = mm
        }

        if let ipam = try r.object("ipam"), !ipam.isEmpty {
            guard let t = ipam["type"]?.stringValue else { throw .invalidConfig("ipam.type is missing") }
            guard !t.isEmpty, !t.contains("/"), t != ".", t != ".." else {
                throw .invalidConfig("ipam.type '\(t)' must be a plugin name, not a path")
            }
            ipamType = t
        }

        if let l = try r.string("logLevel") {
            guard let ll = LogLevel(rawValue: l) else { throw .invalidConfig("logLevel '\(l)' must be panic, error, warning, info or debug") }
            logLevel = ll
        } else { logLevel = .info }
        if let f = try r.string("logFile") {
            guard f.hasPrefix("/"), !f.split(separator: "/").contains("..") else {
                throw .invalidConfig("logFile '\(f)' must be an absolute path")
            }
            logFile = f
        }

        if let p = root["prevResult"], p != .null {
            do { prevResult = try p.decode(CNIResult.self) } catch {
                throw .decode("prevResult is not a CNI result: \(error)")
            }
        }

        let list = root["cni.dev/valid-attachments"] ?? root["cni.dev/attachments"]
        if let list, list != .null {
            guard let a = list.arrayValue else { throw .invalidConfig("cni.dev/valid-attachments must be a list") }
            validAttachments = try a.map { (v) throws(NetconfError) in
                guard let id = v["containerID"]?.stringValue, let ifn = v["ifname"]?.stringValue else {
                    throw .invalidConfig("each cni.dev/valid-attachments entry needs containerID and ifname")
                }
                return Attachment(containerID: id, ifname: ifn)
            }
        }
    }

    static func interface(_ s: String, key: String) throws(NetconfError) -> InterfaceName {
        guard let n = InterfaceName(s) else {
            throw .invalidConfig("\(key) '\(s)' is not an interface name (1-15 bytes, no '/', ':', '%' or spaces)")
        }
        return n
    }

    /// The config to hand to a delegate, with `cniVersion` replaced when the delegate is older.
    public func delegateInput(version: CNIVersion) -> [UInt8] {
        var o = raw
        o["cniVersion"] = .string(version.rawValue)
        // A delegate parses prevResult with the same version it was given.
        if case .object(var prev)? = o["prevResult"] {
            prev["cniVersion"] = .string(version.rawValue)
            o["prevResult"] = .object(prev)
        }
        return JSONValue.object(o).serialized
    }
}

/// The VF table fields a config asks for, with sriov-cni's keys. A field left unset stays as
/// the driver has it.
public struct VFRequest: Sendable, Equatable {
    public var mac: MACAddress?
    public var vlan: VFVLANSetting?
    public var spoofchk: Bool?
    public var trust: Bool?
    public var minTxRate: UInt32?
    public var maxTxRate: UInt32?
    public var linkState: VFLinkState?

    /// From `key=value` words, as `vfwirectl vf set` takes them; values are JSON or bare strings.
    public init(words: [String]) throws(NetconfError) {
        var o: [String: JSONValue] = [:]
        for w in words {
            let kv = w.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { throw .invalidConfig("'\(w)' is not key=value") }
            o[kv[0]] = (try? JSONParser().parse(Array(kv[1].utf8))) ?? .string(kv[1])
        }
        let known: Set<String> = ["mac", "vlan", "vlanQoS", "vlanProto", "spoofchk", "trust", "link_state", "min_tx_rate", "max_tx_rate"]
        if let k = o.keys.sorted().first(where: { !known.contains($0) }) {
            throw .invalidConfig("\(k) is not a VF setting: use \(known.sorted().joined(separator: ", "))")
        }
        let r = Reader(o)
        try self.init(r, mac: try r.mac("mac"))
    }

    init(_ r: Reader, mac: MACAddress?) throws(NetconfError) {
        self.mac = mac
        let vlanID = try r.int("vlan", 0...4094)
        let qos = try r.int("vlanQoS", 0...7)
        let protoText = try r.string("vlanProto")
        var proto = VLANProto.dot1Q
        if let p = protoText {
            guard let pp = VLANProto(config: p) else { throw .invalidConfig("vlanProto '\(p)' must be 802.1q or 802.1ad") }
            proto = pp
        }
        if let id = vlanID {
            if id == 0 && (qos ?? 0) != 0 { throw .invalidConfig("vlanQoS \(qos!) needs a non-zero vlan") }
            if id == 0 && proto != .dot1Q { throw .invalidConfig("vlanProto \(proto.rawValue) needs a non-zero vlan") }
            vlan = VFVLANSetting(vlan: VLAN(id)!, qos: UInt8(qos ?? 0), proto: proto)
        } else if qos != nil || protoText != nil {
            throw .invalidConfig("vlanQoS and vlanProto need vlan to be set")
        }
        spoofchk = try r.toggle("spoofchk")
        trust = try r.toggle("trust")
        if let l = try r.string("link_state") {
            guard let ls = VFLinkState(rawValue: l) else { throw .invalidConfig("link_state '\(l)' must be auto, enable or disable") }
            linkState = ls
        }
        minTxRate = try r.int("min_tx_rate", 0...Int(UInt32.max)).map(UInt32.init)
        maxTxRate = try r.int("max_tx_rate", 0...Int(UInt32.max)).map(UInt32.init)
        if let lo = minTxRate, let hi = maxTxRate, hi != 0, lo > hi {
            throw .invalidConfig("min_tx_rate \(lo) is above max_tx_rate \(hi) (Mbps)")
        }
    }

    /// The VF table change that makes `original` what was asked. The rates travel together
    /// in one attribute, so the one not asked for keeps its current value.
    public func change(from original: VFConfig) -> VFChange {
        var c = VFChange(mac: mac, vlan: vlan, spoofchk: spoofchk, trust: trust, linkState: linkState)
        if minTxRate != nil || maxTxRate != nil {
            c.rate = VFRate(min: minTxRate ?? original.minTxRate, max: maxTxRate ?? original.maxTxRate)
        }
        return c
    }
}

/// Levenshtein distance, for naming the key a typo meant.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.utf8), b = Array(b.utf8)
    guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
    var row = Array(0...b.count)
    for i in 1...a.count {
        var diagonal = row[0]
        row[0] = i
        for j in 1...b.count {
            let above = row[j]
            row[j] = min(above + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1))
            diagonal = above
        }
    }
    return row[b.count]
}

/// Typed reads of optional keys; each failure names the key and what it may hold.
struct Reader {
    let o: [String: JSONValue]
    let prefix: String
    init(_ o: [String: JSONValue], prefix: String = "") { self.o = o; self.prefix = prefix }

    func string(_ k: String) throws(NetconfError) -> String? {
        switch o[k] {
        case nil, .null: return nil
        case .string(let s): return s
        default: throw .invalidConfig("\(prefix)\(k) must be a string")
        }
    }

    func object(_ k: String) throws(NetconfError) -> [String: JSONValue]? {
        switch o[k] {
        case nil, .null: return nil
        case .object(let v): return v
        default: throw .invalidConfig("\(prefix)\(k) must be an object")
        }
    }

    func int(_ k: String, _ range: ClosedRange<Int>) throws(NetconfError) -> Int? {
        switch o[k] {
        case nil, .null: return nil
        case .number(let n) where n.rounded() == n && n >= Double(range.lowerBound) && n <= Double(range.upperBound):
            return Int(n)
        default: throw .invalidConfig("\(prefix)\(k) must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
    }

    func toggle(_ k: String) throws(NetconfError) -> Bool? {
        switch o[k] {
        case nil, .null, .string: break
        default: throw .invalidConfig("\(prefix)\(k) must be \"on\" or \"off\"")
        }
        guard let s = try string(k) else { return nil }
        switch s {
        case "on": return true
        case "off": return false
        default: throw .invalidConfig("\(prefix)\(k) '\(s)' must be \"on\" or \"off\"")
        }
    }

    func mac(_ k: String) throws(NetconfError) -> MACAddress? {
        guard let s = try string(k), !s.isEmpty else { return nil }
        guard let m = MACAddress(s), m.isUsableUnicast else {
            throw .invalidConfig("\(prefix)\(k) '\(s)' must be a unicast MAC address like 02:00:00:00:00:01")
        }
        return m
    }
}

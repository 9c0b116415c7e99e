import FoundationEssentials
import CNIProtocol
import JSON
import Sysfs
import VFWireTypes

/// The state a runtime writes to a hook's stdin (OCI runtime spec, "State").
public struct OCIState: Decodable, Sendable {
    public var ociVersion: String?
    public var id: String
    public var status: String?
    public var pid: Int32?
    public var bundle: String
    public var annotations: [String: String]?

    public static func parse(_ bytes: [UInt8]) throws -> OCIState {
        // The bounded parser first: Foundation's decoder is quadratic in nesting depth, and
        // of two equal keys it keeps a different one than runc (Go) does.
        do { _ = try JSONParser().parse(bytes) } catch {
            throw HookError.decode("the OCI state on stdin is not valid: \(error)")
        }
        do { return try JSONDecoder().decode(OCIState.self, from: Data(bytes)) } catch {
            throw HookError.decode("the OCI state on stdin is not valid (it needs id and bundle): \(error)")
        }
    }
}

/// One network a container asks for: `network[:ifname][;mac=MAC][;vlan=N]`, in the annotation
/// `vfwire.io/networks` or the environment variable `VFWIRE_NETWORKS`. Entries are separated by
/// commas or white space: podman splits `--annotation` values on commas, so a podman container
/// with two networks needs the space (`a:eth1 b:eth2`); Docker's environment variable keeps commas.
public struct NetworkRequest: Equatable, Sendable {
    public var network: CNIIdentifier
    public var ifname: InterfaceName
    public var mac: MACAddress?
    public var vlan: VLAN?

    public static let annotation = "vfwire.io/networks"
    public static let environment = "VFWIRE_NETWORKS"

    /// Interfaces without a name get net1, net2, … in order, as Multus names them.
    public static func parse(_ text: String) throws -> [NetworkRequest] {
        var out: [NetworkRequest] = []
        let entries = text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
        for (i, entry) in entries.enumerated() {
            let parts = entry.split(separator: ";").map(String.init)
            let head = parts[0].split(separator: ":", maxSplits: 1).map(String.init)
            guard let net = CNIIdentifier(head[0]) else {
                throw HookError.invalidConfig("'\(head[0])' in '\(entry)' is not a network name")
            }
            let ifText = head.count == 2 ? head[1] : "net\(i + 1)"
            guard let ifname = InterfaceName(ifText) else { throw HookError.invalidConfig("'\(ifText)' in '\(entry)' is not an interface name") }
            var r = NetworkRequest(network: net, ifname: ifname)
            for kv in parts.dropFirst() {
                let p = kv.split(separator: "=", maxSplits: 1).map(String.init)
                switch (p.first, p.count) {
                case ("mac", 2):
                    guard let m = MACAddress(p[1]), m.isUsableUnicast else { throw HookError.invalidConfig("mac '\(p[1])' in '\(entry)' is not a unicast MAC") }
                    r.mac = m
                case ("vlan", 2):
                    guard let n = Int(p[1]), let v = VLAN(n) else { throw HookError.invalidConfig("vlan '\(p[1])' in '\(entry)' must be 0-4094") }
                    r.vlan = v
                default:
                    throw HookError.invalidConfig("'\(kv)' in '\(entry)': only mac=… and vlan=… may follow a network")
                }
            }
            if out.contains(where: { $0.ifname == r.ifname }) { throw HookError.invalidConfig("interface \(r.ifname) is asked for twice") }
            out.append(r)
        }
        return out
    }
}

import Foundation
import CNIProtocol
import JSON
import VFWireTypes
import Yams

/// `topo export --k8s`: the plan as Kubernetes objects for Multus and the SR-IOV network device
/// plugin, for testbeds that outgrow `--host`. A NetworkAttachmentDefinition per link end carries
/// the same CNI config `plan` writes; the device plugin, not vfwire, then picks the VF, and Multus
/// passes it as `deviceID`. A Pod per node asks for its ends by name, MAC and interface.
extension Plan {
    public struct KubernetesOptions: Sendable {
        /// The device plugin's resources: one pool of VFs on their netdev driver, one on vfio-pci,
        /// as the device plugin's selectors (`drivers`) must keep them apart.
        public var netdeviceResource = "vfwire.io/netdevice"
        public var vfioResource = "vfwire.io/vfio"
        /// For nodes whose file names no image (bare network namespaces have none).
        public var image: String?
        public init() {}
    }

    /// The objects, one YAML document each: every NetworkAttachmentDefinition, then every Pod.
    public func kubernetes(_ o: KubernetesOptions = KubernetesOptions()) throws -> String {
        var names: [String: String] = [:]   // Kubernetes name -> the vfwire name it came from
        func name(_ s: String, line: Int?) throws -> String {
            let k = Self.kubernetesName(s)
            guard Self.isKubernetesName(k) else {
                throw TopologyError(line: line, message: "'\(s)' has no Kubernetes name (lowercase letters, digits and '-', at most 63); rename it")
            }
            if let other = names[k], other != s {
                throw TopologyError(line: line, message: "'\(s)' and '\(other)' both become '\(k)' in Kubernetes; rename one")
            }
            names[k] = s
            return k
        }
        let topo = try name(topology.name, line: nil)
        // Nodes first, so that two that clash are named as the nodes they are.
        for n in topology.nodes { _ = try name(n.name, line: n.line) }
        func resource(_ e: PlannedEnd) -> String { e.mode == .vfio ? o.vfioResource : o.netdeviceResource }

        var docs: [JSONValue] = []
        for l in links {
            let line = topology.links[l.index].line
            for e in [l.a, l.b] {
                let nad = try name(e.network, line: line)
                var list = networkList(e, l, in: "")
                list.name = nad
                docs.append(.object([
                    "apiVersion": .string("k8s.cni.cncf.io/v1"), "kind": .string("NetworkAttachmentDefinition"),
                    "metadata": .object(["name": .string(nad),
                                         "annotations": .object(["k8s.v1.cni.cncf.io/resourceName": .string(resource(e))])]),
                    "spec": .object(["config": .string(String(decoding: list.encoded(pretty: false), as: UTF8.self))]),
                ]))
            }
        }
        for n in topology.nodes {
            guard let image = n.image ?? o.image else {
                throw TopologyError(line: n.line, message: "node \(n.name) has no image, which a Pod needs; give it one or pass --image")
            }
            let ends = ends(of: n.name)
            let selections: [JSONValue] = try ends.map { e, l in
                .object(["name": .string(try name(e.network, line: topology.links[l.index].line)),
                         "interface": .string(e.ifname.value), "mac": .string(e.mac.description)])
            }
            var counts: [String: Int] = [:]
            for (e, _) in ends { counts[resource(e), default: 0] += 1 }
            let quantities = JSONValue.object(counts.mapValues { .string("\($0)") })
            var container: [String: JSONValue] = ["name": .string(try name(n.name, line: n.line)), "image": .string(image),
                                                  "resources": .object(["requests": quantities, "limits": quantities])]
            // As `up` runs a container node: something that stays, when the file names nothing.
            container["command"] = .array((n.cmd.isEmpty ? ["sleep", "infinity"] : n.cmd).map(JSONValue.string))
            if !n.env.isEmpty {
                container["env"] = .array(n.env.keys.sorted().map { .object(["name": .string($0), "value": .string(n.env[$0]!)]) })
            }
            // A userspace driver pins its DMA memory, as vfwire-runc warns outside Kubernetes.
            if ends.contains(where: { $0.0.mode == .vfio }) {
                container["securityContext"] = .object(["capabilities": .object(["add": .array([.string("IPC_LOCK")])])])
            }
            var spec: [String: JSONValue] = ["containers": .array([.object(container)])]
            if let host = n.host { spec["nodeSelector"] = .object(["kubernetes.io/hostname": .string(host)]) }
            let compact = JSONEncoder()
            compact.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let networks = String(decoding: try compact.encode(JSONValue.array(selections)), as: UTF8.self)
            docs.append(.object([
                "apiVersion": .string("v1"), "kind": .string("Pod"),
                "metadata": .object(["name": .string("\(topo)-\(try name(n.name, line: n.line))"),
                                     "labels": .object(["vfwire.io/topology": .string(topo)]),
                                     "annotations": .object(["k8s.v1.cni.cncf.io/networks": .string(networks)])]),
                "spec": .object(spec),
            ]))
        }
        let encoder = YAMLEncoder()
        encoder.options.sortKeys = true
        return try docs.map { "---\n" + (try encoder.encode($0)) }.joined()
    }

    /// Lowercase, '_' and '.' as '-': topology names allow what DNS labels do not.
    static func kubernetesName(_ s: String) -> String {
        String(s.lowercased().map { $0 == "_" || $0 == "." ? "-" : $0 })
    }

    /// An RFC 1123 label, what Kubernetes wants of container names and serves well for the rest.
    static func isKubernetesName(_ s: String) -> Bool {
        let ok = s.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d }
        return ok && !s.isEmpty && s.utf8.count <= 63 && s.first != "-" && s.last != "-"
    }
}

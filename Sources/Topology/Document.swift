import Foundation
import CNIProtocol
import JSON
import Shaping
import VFWireTypes

/// The topology as JSON for scripts: `plan --json` and `inspect --json` print the same keys, so a
/// script reads either; what only the host knows (`vf`, `state`, `iommuGroup`, a node's
/// `state`) is null in a plan, and `pf` is the placement's until a host says which it took. Keys are only ever added.
extension Plan {
    /// What inspect found of one link end on this host.
    public struct LiveEnd: Sendable {
        public var state: String
        public var pf: String?
        public var vf: String?
        public var iommuGroup: Int?
        public var mac: String?
        public var address: String?
    }

    public func document(nodeState: (Topology.Node) -> String? = { _ in nil },
                         live: (PlannedEnd) -> LiveEnd? = { _ in nil }) -> JSONValue {
        func opt(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
        let nodes: [JSONValue] = topology.nodes.map { n in
            .object(["name": .string(n.name), "runtime": .string(n.runtime.rawValue), "host": opt(n.host),
                     "image": opt(n.image), "state": opt(nodeState(n))])
        }
        let links: [JSONValue] = links.map { l in
            let ends: [JSONValue] = [l.a, l.b].map { e in
                let now = live(e)
                return .object(["node": .string(e.node), "interface": .string(e.ifname.value),
                                "mac": .string(now?.mac ?? e.mac.description), "address": .string(now?.address ?? e.address.description),
                                "mode": .string(e.mode.rawValue), "network": .string(e.network),
                                "pf": opt(now?.pf ?? e.pf?.value), "vf": opt(now?.vf), "state": opt(now?.state),
                                "iommuGroup": now?.iommuGroup.map { .number(Double($0)) } ?? .null,
                                "max_tx_rate": e.maxTxRate.map { .number(Double($0)) } ?? .null,
                                "impairments": e.impairment.isNone ? .null
                                    : .object(Dictionary(uniqueKeysWithValues: e.impairment.settings.map { ($0.name, .string($0.value)) }))])
            }
            return .object(["index": .number(Double(l.index + 1)), "vlan": .number(Double(l.vlan.id)), "kind": .string(l.kindName), "path": .string(l.path.rawValue),
                            "mtu": l.mtu.map { .number(Double($0)) } ?? .null, "endpoints": .array(ends)])
        }
        return .object(["name": .string(topology.name), "nodes": .array(nodes), "links": .array(links)])
    }
}

extension JSONValue {
    /// Pretty, with sorted keys: the same bytes for the same state.
    public var text: String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? e.encode(self)) ?? Data(), as: UTF8.self) + "\n"
    }
}

import Shaping
import VFWireTypes
import Yams

/// Shaping a link end from the file: containerlab's `tools netem set` impairments (`delay`,
/// `jitter`, `loss`, `rate`, `corruption`, with its units) on the end's egress inside its node,
/// and `max_tx_rate`, the VF's own limit, which the NIC enforces.
extension Topology {
    static let shapingKeys = Impairment.names + ["max_tx_rate"]

    /// Reads a link's shaping keys into its ends. Each key is one value for both ends or a list
    /// of one per endpoint, as `mode` is; a null in that list leaves its end unshaped.
    static func shaping(_ m: Yams.Node.Mapping, into link: inout Link, _ c: Collector) {
        for key in shapingKeys {
            guard let given = m[key],
                  let values = c.check({ given.sequence == nil ? [given, given] : try perEndpoint(given, key, "one value per endpoint") })
            else { continue }
            for (i, v) in values.enumerated() where v.null == nil {
                c.check {
                    var end = i == 0 ? link.a : link.b
                    if key == "max_tx_rate" {
                        guard let n = decimal(v), let mbps = UInt32(exactly: n) else {
                            throw TopologyError(line: line(v), message: "max_tx_rate must be Mbps, 0-\(UInt32.max) (0: no limit)")
                        }
                        end.maxTxRate = mbps
                    } else {
                        do { try end.impairment.set(key, v.scalar?.string ?? "", label: key) } catch {
                            throw TopologyError(line: line(v), message: "\(error)")
                        }
                    }
                    if i == 0 { link.a = end } else { link.b = end }
                }
            }
        }
        for e in [link.a, link.b] {
            if e.impairment.jitterUs > 0 && e.impairment.delayUs == 0 {
                c.error(link.line, "endpoint \(e.node):\(e.ifname): jitter varies a delay; give this end a delay too")
            }
            if e.mode == .vfio && !e.impairment.isNone {
                c.error(link.line, "endpoint \(e.node):\(e.ifname) is vfio: its packets bypass the kernel, so no qdisc can impair them; "
                    + "limit its VF with max_tx_rate instead")
            }
        }
    }
}

extension Plan {
    /// One row per shaped link end, after the plan's other tables; nothing when no end is shaped.
    func shapingTable() -> String {
        var rows = [["LINK", "NODE", "IFNAME", "MAX_TX_RATE", "EGRESS"]]
        for l in links {
            for e in [l.a, l.b] where e.maxTxRate != nil || !e.impairment.isNone {
                rows.append(["\(l.index + 1)", e.node, e.ifname.value, e.maxTxRate.map { $0 == 0 ? "none" : "\($0) Mbps" } ?? "-",
                             e.impairment.isNone ? "-" : e.impairment.flags])
            }
        }
        return rows.count == 1 ? "" : "\n" + render(rows)
    }
}

import CShaping
import Namespaces
#if canImport(Glibc)
import Glibc
#endif

/// Impairments on an interface's egress inside a namespace, through libnl: rate alone is a tbf at
/// the root; anything else is a netem at the root, or under a tbf (class 1:1) when a rate comes with it.
public enum Shaper {
    public static func set(namespace: String, interface: String, _ want: Impairment) throws {
        try inside(namespace, interface) { sock, ifindex in
            // Each set replaces what was there, as containerlab's does.
            try removeRoot(sock, ifindex)
            if want.isNone { return }
            do { try install(sock, ifindex, interface, want) } catch {
                // Half a set (a tbf without its netem) would measure as something nobody asked for.
                try? removeRoot(sock, ifindex)
                throw error
            }
        }
    }

    static func install(_ sock: OpaquePointer, _ ifindex: Int32, _ interface: String, _ want: Impairment) throws {
        var parent = vfw_shaping_root()
        if want.rateKbit > 0 {
            try add(sock, ifindex, kind: "tbf", parent: parent, handle: vfw_shaping_handle(1, 0), "a \(want.rateKbit) kbit/s tbf on \(interface)") { q in
                let bytesPerSecond = want.rateKbit * 125
                guard bytesPerSecond <= UInt64(Int32.max) else {
                    throw ShapingError.usage("--rate \(want.rateKbit): tbf through libnl takes at most \(UInt64(Int32.max) / 125) kbit/s")
                }
                let rate = Int32(bytesPerSecond)
                // 5 ms of traffic per burst, at least a full frame; 50 ms of queue.
                let burst = max(rate / 200, 1600)
                rtnl_qdisc_tbf_set_rate(q, rate, burst, 0)
                rtnl_qdisc_tbf_set_limit(q, max(rate / 20, burst * 2))
            }
            parent = vfw_shaping_handle(1, 1)
        }
        guard want.needsNetem else { return }
        try add(sock, ifindex, kind: "netem", parent: parent, handle: vfw_shaping_handle(10, 0), "netem on \(interface)") { q in
            rtnl_netem_set_delay(q, Int32(clamping: want.delayUs))
            if want.jitterUs > 0 { rtnl_netem_set_jitter(q, Int32(clamping: want.jitterUs)) }
            if want.lossPct > 0 { rtnl_netem_set_loss(q, probability(want.lossPct)) }
            if want.corruptionPct > 0 { rtnl_netem_set_corruption_probability(q, probability(want.corruptionPct)) }
        }
    }

    /// What `set` left on the interface, read back from the kernel.
    public static func show(namespace: String, interface: String) throws -> Impairment {
        try inside(namespace, interface) { sock, ifindex in
            var cache: OpaquePointer?
            try check(rtnl_qdisc_alloc_cache(sock, &cache), "cannot list qdiscs")
            defer { nl_cache_free(cache) }
            var found = Impairment()
            var obj = nl_cache_get_first(cache)
            while let o = obj {
                let q = o
                if rtnl_tc_get_ifindex(q) == ifindex, let kind = rtnl_tc_get_kind(q).map({ String(cString: $0) }) {
                    if kind == "tbf" { found.rateKbit = UInt64(max(rtnl_qdisc_tbf_get_rate(q), 0)) / 125 }
                    if kind == "netem" {
                        found.delayUs = UInt32(max(rtnl_netem_get_delay(q), 0))
                        found.jitterUs = UInt32(max(rtnl_netem_get_jitter(q), 0))
                        found.lossPct = percent(rtnl_netem_get_loss(q))
                        found.corruptionPct = percent(rtnl_netem_get_corruption_probability(q))
                    }
                }
                obj = nl_cache_get_next(o)
            }
            return found
        }
    }

    /// netem's probabilities are fractions of 2^32 - 1.
    static func probability(_ pct: Double) -> Int32 { Int32(bitPattern: UInt32((pct / 100 * Double(UInt32.max)).rounded())) }
    static func percent(_ p: Int32) -> Double { p < 0 && UInt32(bitPattern: p) == 0 ? 0 : Double(UInt32(bitPattern: p)) / Double(UInt32.max) * 100 }

    static func inside<T>(_ namespace: String, _ interface: String, _ body: (OpaquePointer, Int32) throws -> T) throws -> T {
        let ns = try NetNS(path: namespace.contains("/") ? namespace : "/run/netns/\(namespace)")
        return try ns.run { () throws -> T in
            let ifindex = Int32(if_nametoindex(interface))
            guard ifindex > 0 else { throw ShapingError.failed("no interface \(interface) in \(namespace)") }
            guard let sock = nl_socket_alloc() else { throw ShapingError.failed("cannot allocate a netlink socket") }
            defer { nl_socket_free(sock) }
            try check(nl_connect(sock, NETLINK_ROUTE), "cannot open a route netlink socket")
            return try body(sock, ifindex)
        }
    }

    static func removeRoot(_ sock: OpaquePointer, _ ifindex: Int32) throws {
        let q = rtnl_qdisc_alloc()!
        defer { rtnl_qdisc_put(q) }
        rtnl_tc_set_ifindex(q, ifindex)
        rtnl_tc_set_parent(q, vfw_shaping_root())
        let rc = rtnl_qdisc_delete(sock, q)
        // The default qdisc (none on a veth) cannot be deleted: nothing of ours to remove.
        if rc == -NLE_OBJ_NOTFOUND || rc == -NLE_INVAL || rc == -NLE_NOADDR { return }
        try check(rc, "cannot remove the qdisc at the root")
    }

    static func add(_ sock: OpaquePointer, _ ifindex: Int32, kind: String, parent: UInt32, handle: UInt32, _ what: String,
                    configure: (OpaquePointer) throws -> Void) throws {
        let q = rtnl_qdisc_alloc()!
        defer { rtnl_qdisc_put(q) }
        rtnl_tc_set_ifindex(q, ifindex)
        rtnl_tc_set_parent(q, parent)
        rtnl_tc_set_handle(q, handle)
        try check(rtnl_tc_set_kind(q, kind), "libnl has no \(kind) support")
        try configure(q)
        let rc = rtnl_qdisc_add(sock, q, vfw_shaping_create())
        // The kernel answers ENOENT for a qdisc kind it has no module for.
        if rc == -NLE_OBJ_NOTFOUND && kind == "netem" {
            throw ShapingError.failed("this kernel has no netem qdisc: load the sch_netem module (modprobe sch_netem; "
                + "CONFIG_NET_SCH_NETEM). Delay, jitter, loss and corruption need it; --rate alone works without it (tbf)")
        }
        try check(rc, "cannot add \(what)")
    }

    static func check(_ rc: Int32, _ what: @autoclosure () -> String) throws {
        if rc < 0 { throw ShapingError.failed("\(what()): \(String(cString: nl_geterror(rc)))") }
    }
}

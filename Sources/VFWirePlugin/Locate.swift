import FileSystem
import Namespaces
import Netlink

/// Finding a VF netdev the host's sysfs does not show: one a container moved on into another
/// namespace, or one whose record is lost.
extension VFWire {
    /// Every network namespace a path reaches, each once: those named in `first`, then the
    /// mounted ones (`ip netns`'s, the hook's) and every process's.
    func reachableNamespaces(first: [String]) -> [NetNS] {
        let mounted = ["/run/netns", state.paths.netns].flatMap { d in FS.list(d).map { d + "/" + $0 } }
        let processes = FS.list("/proc").filter { $0.allSatisfy(\.isNumber) }.map { "/proc/\($0)/ns/net" }
        var seen = Set<NetNSIdentity>()
        return (first + mounted + processes).compactMap { p in
            guard let ns = try? NetNS(path: p), seen.insert(ns.identity).inserted else { return nil }
            return ns
        }
    }

    /// The namespace other than `host` that holds a link `isVF` recognises, and that link.
    func findNetdev(_ isVF: (LinkInfo) -> Bool, first: [String], host: NetNS) -> (NetNS, LinkInfo)? {
        for ns in reachableNamespaces(first: first) where ns.identity != host.identity {
            // A namespace dying as we look has nothing left to give back.
            if let l = try? ns.run({ () throws in try Netlink().links().first(where: isVF) }) { return (ns, l) }
        }
        return nil
    }

    /// Moves link `l` of `ns` to the host as `name`, in one request; under the kernel's own
    /// fallback `dev%d` when the name is taken there.
    func moveHome(_ l: LinkInfo, from ns: NetNS, as name: String, host: NetNS, log: Log) throws {
        try ns.run { () throws in
            let nl = try Netlink()
            do {
                try nl.modify(ifindex: l.ifindex, LinkChange(name: name, netnsFD: host.fd),
                              what: "cannot move \(l.name) back to the host")
            } catch {
                log.warn("\(error); retrying under a free name")
                guard try nl.link(index: l.ifindex) != nil else { return }
                try nl.modify(ifindex: l.ifindex, LinkChange(name: "dev%d", netnsFD: host.fd),
                              what: "cannot move \(l.name) back to the host")
            }
        }
    }
}

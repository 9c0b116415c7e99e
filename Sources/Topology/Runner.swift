import Foundation
import CNIClient
import CNIProtocol
import FileSystem
import Namespaces
import Netlink
import PFDriver
import Subprocess
import Sysfs
import VFState
import VFWireTypes

/// Brings a plan up and down on this host: nodes as containers (or bare network namespaces),
/// each link end attached through vfwire. Everything it did is found again from the state
/// directory, so `down` works after any partial `up`, and both can be repeated.
public struct Runner {
    public var plan: Plan
    public var stateDir: String
    public var binDirs: [String]
    public var host: String?
    public var say: (String) -> Void
    /// The NICs and VF claims the plugin sees, to count free VFs as ADD will find them.
    public var nics: NICs
    public var vfState: StateDir

    public init(plan: Plan, stateDir: String, binDirs: [String], host: String?, nics: NICs, vfState: StateDir,
                say: @escaping (String) -> Void) {
        self.plan = plan; self.stateDir = stateDir; self.binDirs = binDirs; self.host = host
        self.nics = nics; self.vfState = vfState; self.say = say
    }

    var topo: Topology { plan.topology }
    var client: CNIClient { CNIClient(binDirs: binDirs, cacheDir: stateDir + "/cache") }

    /// The nodes this host runs: with --host, those placed on it; without, all.
    public var nodes: [Topology.Node] { topo.nodes.filter { host == nil || $0.host == host } }

    /// What a node is called on the host: its network namespace, its container, and its
    /// container ID in the CNI cache.
    public func hostName(_ node: String) -> String { "vfw-\(topo.name)-\(node)" }

    public func up() throws {
        try plan.write(to: stateDir)
        let ends = nodes.flatMap { plan.ends(of: $0.name) }
        // A running container's ends are the hook's business and already attached.
        let running = Set(nodes.filter { $0.runtime != .netns && containerExists($0) }.map(\.name))
        try checkVFs(needed: ends.filter { !running.contains($0.0.node) && !isAttached($0.0) }.count)
        try parallel(nodes.map { n in ("node \(n.name)", { try start(n); return "node \(n.name): up (\(n.runtime.rawValue))" }) })
        // Link ends of netns nodes attach in parallel: they share nothing but the PF, whose
        // VF allocation is safe across processes.
        let netnsEnds = ends.filter { e in nodes.first { $0.name == e.0.node }?.runtime == .netns }
        try parallel(netnsEnds.map { e, l in
            ("link \(l.index + 1) \(e.node):\(e.ifname)", { try attach(e, l); return "link \(l.index + 1) \(e.node):\(e.ifname) vlan \(l.vlan): attached" })
        })
    }

    /// Runs the steps on all cores, reports each as it ends, and fails with every failure.
    func parallel(_ steps: [(String, () throws -> String)], failure: String = "up failed (run down to clean up)") throws {
        var errors = [String?](repeating: nil, count: steps.count)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: steps.count) { i in
            do {
                let line = try steps[i].1()
                lock.lock(); say(line); lock.unlock()
            } catch {
                lock.lock(); errors[i] = "\(steps[i].0): \(error)"; lock.unlock()
            }
        }
        let failed = errors.compactMap { $0 }
        if !failed.isEmpty {
            throw TopologyError(line: nil, message: failure + ":\n  " + failed.joined(separator: "\n  "))
        }
    }

    func isAttached(_ e: Plan.PlannedEnd) -> Bool {
        guard let id = CNIIdentifier(hostName(e.node)) else { return false }
        return client.cached(id).contains { $0.network == e.network && $0.ifname == e.ifname.value && $0.result != nil }
    }

    func attach(_ e: Plan.PlannedEnd, _ l: Plan.PlannedLink) throws {
        if isAttached(e) { return }
        _ = try client.add(plan.networkList(e, l, in: stateDir), containerID: CNIIdentifier(hostName(e.node))!,
                           netns: "/run/netns/" + hostName(e.node), ifname: e.ifname, args: "IgnoreUnknown=1", runtimeConfig: [:])
    }

    func start(_ n: Topology.Node) throws {
        let forwarding = plan.ends(of: n.name).count > 1
        switch n.runtime {
        case .netns:
            let path = "/run/netns/" + hostName(n.name)
            if !FileManager.default.fileExists(atPath: path) { try run(["ip", "netns", "add", hostName(n.name)]) }
            // The rest in-process, on this thread alone: setns moves only the calling thread.
            try NetNS(path: path).run { () throws in
                let nl = try Netlink()
                if let lo = try nl.link(named: "lo") { try nl.modify(ifindex: lo.ifindex, LinkChange(up: true), what: "cannot bring lo up") }
                // /proc/sys answers for the namespace of whoever opens it.
                if forwarding { try FS.write("/proc/sys/net/ipv4/ip_forward", "1\n") }
            }
        case .podman, .docker:
            let tool = n.runtime == .podman ? "podman" : "docker"
            if containerExists(n) { return }
            // The containers' networks come from vfwire-hook, which finds them in the plan.
            var args = [tool, "run", "-d", "--name", hostName(n.name), "--network", "none"]
            if forwarding { args += ["--sysctl", "net.ipv4.ip_forward=1"] }
            if n.runtime == .podman {
                args += ["--annotation", "vfwire.io/networks=\(plan.attachments(of: n.name))",
                         "--annotation", "vfwire.io/conf-dir=\(stateDir)/net.d"]
            } else {
                args += ["--runtime", "vfwire", "-e", "VFWIRE_NETWORKS=\(plan.attachments(of: n.name))",
                         "-e", "VFWIRE_CONF_DIR=\(stateDir)/net.d"]
            }
            try run(args + [n.image!] + (n.cmd.isEmpty ? ["sleep", "infinity"] : n.cmd))
        }
    }

    /// Detaches every link end and stops every node of this host, whatever `up` got to.
    /// Nodes go down in parallel, each detaching its own ends first.
    public func down() throws {
        try parallel(nodes.map { n in ("node \(n.name)", {
            let id = CNIIdentifier(hostName(n.name))!
            switch n.runtime {
            case .netns:
                var failed: [String] = []
                for a in client.cached(id) {
                    do { try client.del(a) } catch { failed.append("\(a.ifname): \(error)") }
                }
                if !failed.isEmpty { throw TopologyError(line: nil, message: "could not detach " + failed.joined(separator: "; ")) }
                if FileManager.default.fileExists(atPath: "/run/netns/" + hostName(n.name)) {
                    try run(["ip", "netns", "del", hostName(n.name)])
                }
            case .podman, .docker:
                // The hook's poststop detaches.
                // Now: a node's command need not handle SIGTERM.
                _ = try? run(n.runtime == .podman ? ["podman", "rm", "-f", "-t", "0", hostName(n.name)]
                                                  : ["docker", "rm", "-f", hostName(n.name)])
            }
            return "node \(n.name): down"
        }) }, failure: "down failed")
        // Nothing of the topology is left on this host: neither is its plan.
        if FS.list(stateDir + "/cache").isEmpty { try? FileManager.default.removeItem(atPath: stateDir) }
    }

    /// Nodes, link ends, their VFs and what they carry now.
    public func inspect() -> String {
        var rows = [["NODE", "STATE", "IFNAME", "VF", "PF", "VLAN", "MAC", "ADDRESS"]]
        for n in nodes {
            let id = CNIIdentifier(hostName(n.name))!
            let cached = client.cached(id)
            let state: String
            switch n.runtime {
            case .netns: state = FileManager.default.fileExists(atPath: "/run/netns/" + hostName(n.name)) ? "up" : "down"
            case .podman, .docker: state = containerExists(n) ? "up" : "down"
            }
            for (e, l) in plan.ends(of: n.name) {
                let result = cached.first { $0.ifname == e.ifname.value }?.result
                let iface = result?["interfaces"]?.arrayValue?.last
                let pci = iface?["pciID"]?.stringValue
                let pf = pci.flatMap(PCIAddress.init).flatMap(nics.function)?.physfn?.netdevs.first
                let addr = result?["ips"]?.arrayValue?.first?["address"]?.stringValue
                rows.append([n.name, result == nil ? state : "attached", e.ifname.value, pci ?? "-", pf ?? "-",
                             "\(l.vlan)", iface?["mac"]?.stringValue ?? e.mac.description, addr ?? e.address.description])
            }
            if plan.ends(of: n.name).isEmpty { rows.append([n.name, state, "-", "-", "-", "-", "-", "-"]) }
        }
        return render(rows)
    }

    func containerExists(_ n: Topology.Node) -> Bool {
        (try? run([n.runtime == .podman ? "podman" : "docker", "container", "inspect", hostName(n.name)])) != nil
    }

    func checkVFs(needed: Int) throws {
        guard needed > 0, !topo.defaults.pfs.isEmpty else { return }
        var free = 0
        for name in topo.defaults.pfs {
            guard let pf = nics.pf(netdev: name) else { throw TopologyError(line: nil, message: "PF \(name) does not exist on this host") }
            try nics.open(pf).refresh(vf: nil)
            free += vfState.freeVFs(of: pf).count
        }
        if needed > free {
            throw TopologyError(line: topo.links.last?.line, message: "\(needed) link ends need a VF each, and \(topo.defaults.pfs.map(\.value).joined(separator: ", ")) have \(free) free")
        }
    }

    /// Runs a tool to its end, its output in a file rather than a pipe (see `Child(tool:)`).
    func run(_ args: [String]) throws {
        let errPath = NSTemporaryDirectory() + "vfwire-topo-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        defer { unlink(errPath) }
        let exit: Child.Exit
        do { exit = try Child(tool: args, stderrFile: errPath).wait() } catch {
            throw TopologyError(line: nil, message: "\(error)")
        }
        guard exit.waitStatus == 0 else {
            let err = (try? String(contentsOfFile: errPath, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            throw TopologyError(line: nil, message: "\(args.joined(separator: " ")) failed (status \(exit.waitStatus))\(err.isEmpty ? "" : ": " + err)")
        }
    }
}

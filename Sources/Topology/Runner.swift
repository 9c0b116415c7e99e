import Foundation
import CNIClient
import CNIProtocol
import FileSystem
import Namespaces
import Netlink
import PFDriver
import Subprocess
import Synchronization
import Sysfs
import VFState
import VFWireTypes

/// The steps of one `Runner.parallel` not yet taken, and the failures of those that ran.
private final class StepQueue: Sendable {
    let state: Mutex<(next: Int, errors: [String?])>
    init(count: Int) { state = Mutex((0, [String?](repeating: nil, count: count))) }
    func take() -> Int? {
        state.withLock { q in
            guard q.next < q.errors.count else { return nil }
            defer { q.next += 1 }
            return q.next
        }
    }
}

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
        let ends = nodes.flatMap { plan.ends(of: $0.name) }
        try checkVFIO(ends)
        try checkVLANs()
        try plan.write(to: stateDir)
        try checkVFs(unattachedEnds())
        let started = Mutex<[Topology.Node]>([])
        try parallel(nodes.map { n in ("node \(n.name)", {
            if try start(n) { started.withLock { $0.append(n) } }
            return "node \(n.name): up (\(n.runtime.rawValue))"
        }) })
        // Link ends of netns nodes attach in parallel: they share nothing but the PF, whose
        // VF allocation is safe across processes.
        let netnsEnds = ends.filter { e in nodes.first { $0.name == e.0.node }?.runtime == .netns }
        try parallel(netnsEnds.map { e, l in
            ("link \(l.index + 1) \(e.node):\(e.ifname)", { try attach(e, l); return "link \(l.index + 1) \(e.node):\(e.ifname) \(l.kind == .vf ? "vlan " : "")\(l.carrier(topo.name)): attached" })
        })
        // An end that cannot be shaped (no sch_netem) leaves the rest of the testbed standing,
        // and is reported once all of it is up. Shaped before exec, whose commands may measure.
        var failed = shape(ends)
        // As containerlab does, a node's exec commands run once, when it is first started,
        // with its links in place.
        do {
            try parallel(started.withLock { $0 }.filter { !$0.exec.isEmpty }.map { n in ("node \(n.name) exec", {
                for cmd in n.exec { try run(execute(n, cmd)) }
                return "node \(n.name): \(n.exec.count) exec command\(n.exec.count == 1 ? "" : "s") done"
            }) })
        } catch { failed.append("\(error)") }
        if !failed.isEmpty { throw TopologyProblems(errors: failed.map { TopologyError(line: nil, message: $0) }) }
    }

    func execute(_ n: Topology.Node, _ cmd: String) -> [String] {
        switch n.runtime {
        case .netns: ["ip", "netns", "exec", hostName(n.name), "sh", "-c", cmd]
        case .podman, .docker: [n.runtime.rawValue, "exec", hostName(n.name), "sh", "-c", cmd]
        }
    }

    /// A vfio end needs an IOMMU, which an emulated NIC cannot fake: refuse before anything starts.
    func checkVFIO(_ ends: [(Plan.PlannedEnd, Plan.PlannedLink)]) throws {
        guard let (e, l) = ends.first(where: { $0.0.mode == .vfio }) else { return }
        do { try IOMMUGroup.requireIOMMU() } catch {
            throw TopologyError(line: topo.links[l.index].line, message: "link \(l.index + 1) \(e.node):\(e.ifname) is vfio: \(error)")
        }
    }

    /// Refuses a link VLAN that a VF of the same PF already carries for someone else: another
    /// topology, or any attachment outside this topology. Two such segments would be one.
    func checkVLANs() throws {
        let mine = Set(plan.links.flatMap { [$0.a.network, $0.b.network] })
        let wanted = Dictionary(plan.links.filter { $0.kind == .vf }.map { ($0.vlan.id, $0) }, uniquingKeysWith: { a, _ in a })
        let records = vfState.allRecords().filter { !mine.contains($0.key.network) }
        var problems: [TopologyError] = []
        for name in topo.pfPool {
            guard let pf = nics.pf(netdev: name), let driver = try? nics.open(pf) else { continue }
            for r in records where r.pf == pf.address {
                guard let vlan = try? driver.config(vf: r.vfIndex).vlan, let l = wanted[vlan.id] else { continue }
                problems.append(TopologyError(line: topo.links[l.index].line,
                    message: "link \(l.index + 1): vlan \(vlan) on \(name) is already used by \(owner(r.key)) (VF \(r.vf)); give this link another VLAN"))
            }
        }
        if !problems.isEmpty { throw TopologyProblems(errors: problems) }
    }

    /// Who holds an attachment: the topology whose plan has its network, or its network and container.
    func owner(_ key: AttachmentKey) -> String {
        let topologies = URL(fileURLWithPath: stateDir).deletingLastPathComponent().path
        for t in FS.list(topologies).sorted() where FS.exists("\(topologies)/\(t)/net.d/\(key.network).conflist") {
            return "topology \(t) (\(key.network))"
        }
        return "network \(key.network) of container \(key.containerID)"
    }

    /// This host's link ends that up would attach, each needing a free VF.
    func unattachedEnds() -> [(Plan.PlannedEnd, Plan.PlannedLink)] {
        // A running container's ends are the hook's business and already attached.
        let running = Set(nodes.filter { $0.runtime != .netns && containerExists($0) }.map(\.name))
        return nodes.flatMap { plan.ends(of: $0.name) }
            .filter { $0.1.kind == .vf && !running.contains($0.0.node) && !isAttached($0.0) }
    }

    /// How many steps run at once. They wait on the kernel (a netns move is an RCU barrier under
    /// rtnl) and on child processes more than they compute, so one per CPU left rtnl idle while
    /// both workers started processes: a 128-node ring came up in 8.0-8.3 s with 2 workers on
    /// 2 CPUs, 7.2-7.6 s with 4, 7.0-7.6 with 6 and 7.7 with 8, where more only queue on rtnl.
    static let width = 3 * ProcessInfo.processInfo.activeProcessorCount

    /// Runs the steps `width` at a time, reports each as it ends, and fails with every failure.
    func parallel(_ steps: [(String, () throws -> String)], failure: String = "up failed (run down to clean up)") throws {
        let work = StepQueue(count: steps.count)
        let done = DispatchGroup()
        // Threads of their own: Dispatch's pool does not grow when its threads block in syscalls.
        for _ in 0..<min(Self.width, steps.count) {
            done.enter()
            Thread.detachNewThread {
                while let i = work.take() {
                    let outcome = Result { try steps[i].1() }
                    work.state.withLock { q in
                        switch outcome {
                        case .success(let line): say(line)
                        case .failure(let error): q.errors[i] = "\(steps[i].0): \(error)"
                        }
                    }
                }
                done.leave()
            }
        }
        done.wait()
        let errors = work.state.withLock { $0.errors }
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
        if let tunnel = plan.tunnelEnd(e, l, namespace: hostName(e.node)) {
            if !tunnel.exists() { try tunnel.create() }
            for r in (plan.routes[e.node] ?? []) where r.ifname == e.ifname { try tunnel.addRoute(r.dst.description, via: r.via.ip) }
            return
        }
        if isAttached(e) { return }
        _ = try client.add(plan.networkList(e, l, in: stateDir), containerID: CNIIdentifier(hostName(e.node))!,
                           netns: "/run/netns/" + hostName(e.node), ifname: e.ifname, args: "IgnoreUnknown=1", runtimeConfig: [:])
    }

    /// Starts a node unless it runs already; true when it started it.
    func start(_ n: Topology.Node) throws -> Bool {
        let forwarding = plan.ends(of: n.name).count > 1
        switch n.runtime {
        case .netns:
            let path = "/run/netns/" + hostName(n.name)
            if FileManager.default.fileExists(atPath: path) { return false }
            try run(["ip", "netns", "add", hostName(n.name)])
            // The rest in-process, on this thread alone: setns moves only the calling thread.
            try NetNS(path: path).run { () throws in
                let nl = try Netlink()
                if let lo = try nl.link(named: "lo") { try nl.modify(ifindex: lo.ifindex, LinkChange(up: true), what: "cannot bring lo up") }
                // /proc/sys answers for the namespace of whoever opens it.
                if forwarding { try FS.write("/proc/sys/net/ipv4/ip_forward", "1\n") }
            }
        case .podman, .docker:
            let tool = n.runtime == .podman ? "podman" : "docker"
            if containerExists(n) { return false }
            // The containers' networks come from vfwire-hook, which finds them in the plan.
            var args = [tool, "run", "-d", "--name", hostName(n.name), "--network", "none"]
            if forwarding { args += ["--sysctl", "net.ipv4.ip_forward=1"] }
            args += n.env.sorted { $0.key < $1.key }.flatMap { ["-e", "\($0.key)=\($0.value)"] } + n.binds.flatMap { ["-v", $0] }
            if n.runtime == .podman {
                args += ["--annotation", "vfwire.io/networks=\(plan.attachments(of: n.name))",
                         "--annotation", "vfwire.io/conf-dir=\(stateDir)/net.d"]
            } else {
                args += ["--runtime", "vfwire", "-e", "VFWIRE_NETWORKS=\(plan.attachments(of: n.name))",
                         "-e", "VFWIRE_CONF_DIR=\(stateDir)/net.d"]
            }
            try run(args + [n.image!] + (n.cmd.isEmpty ? ["sleep", "infinity"] : n.cmd))
        }
        return true
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

    /// What this host's nodes and link ends are now, read from the namespaces, containers and
    /// VF claims themselves, not from the plan: a node whose namespace or container is gone is
    /// "gone" and its VFs "host" once they are back there, whatever the plan says.
    public func live() -> (nodes: [String: String], ends: [String: Plan.LiveEnd]) {
        let records = vfState.allRecords()
        // An emulated PF's sysfs tree learns where its VF netdevs went only when its driver looks.
        for pf in Set(records.map(\.pf)) { if let fn = nics.function(pf) { try? nics.open(fn).refresh(vf: nil) } }
        var nodeStates: [String: String] = [:]
        var ends: [String: Plan.LiveEnd] = [:]
        for n in nodes {
            let up = n.runtime == .netns ? FileManager.default.fileExists(atPath: "/run/netns/" + hostName(n.name)) : containerExists(n)
            let cached = CNIIdentifier(hostName(n.name)).map { client.cached($0) } ?? []
            var claimed = false
            for (e, l) in plan.ends(of: n.name) {
                if let tunnel = plan.tunnelEnd(e, l, namespace: hostName(n.name)) {
                    ends[e.network] = Plan.LiveEnd(state: up && tunnel.exists() ? "attached" : "detached")
                    continue
                }
                guard let r = records.first(where: { $0.key.network == e.network && $0.key.ifname == e.ifname.value }) else {
                    ends[e.network] = Plan.LiveEnd(state: "detached")
                    continue
                }
                claimed = true
                let fn = nics.function(r.vf)
                let onHost = r.mode == .vfio ? !up : fn?.netdevs.isEmpty == false
                let result = cached.first { $0.network == e.network }?.result
                ends[e.network] = Plan.LiveEnd(
                    state: onHost ? "host" : (up ? "attached" : "gone"),
                    pf: nics.function(r.pf)?.netdevs.first, vf: r.vf.description,
                    iommuGroup: r.mode == .vfio ? fn?.iommuGroup : nil,
                    mac: result?["interfaces"]?.arrayValue?.last?["mac"]?.stringValue,
                    address: result?["ips"]?.arrayValue?.first?["address"]?.stringValue)
            }
            nodeStates[n.name] = up ? "up" : (claimed || !cached.isEmpty ? "gone" : "down")
        }
        return (nodeStates, ends)
    }

    /// Nodes, link ends, their VFs and what they carry now.
    public func inspect() -> String {
        let now = live()
        var rows = [["NODE", "NODE-STATE", "IFNAME", "STATE", "VF", "PF", "VLAN", "MAC", "ADDRESS", "IOMMU-GROUP"]]
        for n in nodes {
            let state = now.nodes[n.name] ?? "-"
            for (e, l) in plan.ends(of: n.name) {
                let end = now.ends[e.network]
                rows.append([n.name, state, e.ifname.value, end?.state ?? "-", end?.vf ?? "-", end?.pf ?? "-", l.carrier(topo.name),
                             end?.mac ?? e.mac.description, end?.address ?? e.address.description,
                             end?.iommuGroup.map(String.init) ?? "-"])
            }
            if plan.ends(of: n.name).isEmpty { rows.append([n.name, state] + Array(repeating: "-", count: 8)) }
        }
        return render(rows)
    }

    public func inspectJSON() -> String {
        let now = live()
        let here = Set(nodes.map(\.name))
        return plan.document(nodeState: { here.contains($0.name) ? now.nodes[$0.name] : nil },
                             live: { now.ends[$0.network] }).text
    }

    func containerExists(_ n: Topology.Node) -> Bool {
        (try? run([n.runtime == .podman ? "podman" : "docker", "container", "inspect", hostName(n.name)])) != nil
    }

    /// Counts, per PF, the VFs these link ends need against the VFs it has free, as ADD will find
    /// them: the placement gave each end its PF, and a PF short of VFs is refused at the first
    /// end it cannot serve.
    func checkVFs(_ ends: [(Plan.PlannedEnd, Plan.PlannedLink)]) throws {
        var problems: [TopologyError] = []
        for pf in topo.pfPool {
            let mine = ends.filter { $0.0.pf == pf }
            guard !mine.isEmpty else { continue }
            guard let fn = nics.pf(netdev: pf) else {
                throw TopologyError(line: topo.links[mine[0].1.index].line, message: "PF \(pf) does not exist on this host")
            }
            try nics.open(fn).refresh(vf: nil)
            let free = vfState.freeVFs(of: fn).count
            guard mine.count > free else { continue }
            let (e, l) = mine[free]
            let pair = topo.defaults.pairs.first { $0.a == pf || $0.b == pf }.map { " (pair [\($0.a), \($0.b)] at line \($0.line))" } ?? ""
            problems.append(TopologyError(line: topo.links[l.index].line,
                message: "\(mine.count) link ends need a VF each of \(pf)\(pair), and it has \(free) free: link \(l.index + 1) \(e.node):\(e.ifname) is the first without one"))
        }
        if !problems.isEmpty { throw TopologyProblems(errors: problems) }
    }

    /// Runs a tool to its end, its output in a file rather than a pipe (see `Child(tool:)`);
    /// with `capture`, returns what it printed.
    @discardableResult
    func run(_ args: [String], capture: Bool = false) throws -> String {
        let base = NSTemporaryDirectory() + "vfwire-topo-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let errPath = base, outPath = base + ".out"
        defer { unlink(errPath); if capture { unlink(outPath) } }
        let exit: Child.Exit
        do { exit = try Child(tool: args, stdoutFile: capture ? outPath : nil, stderrFile: errPath).wait() } catch {
            throw TopologyError(line: nil, message: "\(error)")
        }
        guard exit.status == 0 else {
            let err = (try? String(contentsOfFile: errPath, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            let signal = exit.waitStatus & 0x7f
            let how = signal != 0 ? "killed by signal \(signal)" : "exit code \(exit.status)"
            throw TopologyError(line: nil, message: "\(args.joined(separator: " ")) failed (\(how))\(err.isEmpty ? "" : ": " + err)")
        }
        return capture ? (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" : ""
    }
}

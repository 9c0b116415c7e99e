import FileSystem
import Foundation
import PFDriver
import Shaping
import VFState
import VFWireTypes

/// `vfwirectl topo …`: the command line of topologies.
public enum TopologyCommand {
    public static let usage = """
    usage: vfwirectl topo plan FILE [--host NAME] [--out DIR] [--json]  check FILE, write its CNI configs, print the plan
           vfwirectl topo up FILE [--host NAME]             start this host's nodes and attach their links
           vfwirectl topo down FILE [--host NAME]           detach every link and stop every node (idempotent)
           vfwirectl topo inspect FILE [--host NAME] [--json]  live state: nodes, interfaces, VFs, PFs, VLANs, MACs, addresses
           vfwirectl topo graph FILE [--mermaid | --svg OUT | --png OUT | --html OUT]  Graphviz DOT, Mermaid, or drawn by dot
           vfwirectl topo netem set FILE NODE:IFACE [--delay 1ms] [--jitter 100us] [--loss 10%] [--rate KBIT] [--corruption 0.1%]
                                                            replace a link end's egress impairments (none given: clear them)
           vfwirectl topo netem show FILE [NODE:IFACE]      what each link end's egress has now
           vfwirectl topo probe FILE NODE NODE [PROBE OPTIONS]  vfwirectl probe from the first node to the second's
                                                            address on their link (not neighbours: its first, routed)
           vfwirectl topo export FILE --k8s [--image IMAGE] [--resource NAME] [--vfio-resource NAME]
                                  Multus NetworkAttachmentDefinitions and Pods, as YAML on stdout
    FILE is vfwire's topology format or containerlab's (.clab.yml). Every verb also takes
      --pf PF[,PF]           the PFs to take VFs from (a containerlab file has no place for them)
      --runtime R            run every node on netns, podman or docker (containerlab's nodes: docker)
      --ignore-unsupported   skip, with a warning, keys that have no vfwire meaning instead of refusing
    State lives in /run/vfwire/topo/NAME (VFWIRE_TOPO_STATE overrides); plugins are looked up in
    /opt/cni/bin and /usr/lib/cni (VFWIRE_CNI_PATH overrides).

    """

    /// Runs vfwirectl's probe from one namespace to an address in another, labelled, with the
    /// probe options given after the nodes: `topo probe` is the same probe, found by node names.
    public typealias Probe = (_ from: String, _ to: String, _ address: String, _ label: String, _ options: [String]) -> Int32

    public static func run(_ args: [String], nics: NICs, vfState: StateDir, probe: Probe) -> Int32 {
        var rest = args
        var verb = rest.first ?? ""
        rest = Array(rest.dropFirst())
        if verb == "netem", !rest.isEmpty { verb += " " + rest.removeFirst() }
        guard !rest.isEmpty else { FS.write(fd: 2, usage); return 2 }
        let file = rest.removeFirst()
        // Link ends or nodes come after FILE; the options after them that do not say how to read
        // FILE are the impairment's or the probe's.
        let named: [String: (ClosedRange<Int>, String)] = ["netem set": (1...1, "FILE NODE:IFACE"), "netem show": (0...1, "FILE [NODE:IFACE]"),
                                                           "probe": (2...2, "FILE NODE NODE")]
        var names: [String] = []
        while names.count < (named[verb]?.0.upperBound ?? 0), let next = rest.first, !next.hasPrefix("-") { names.append(rest.removeFirst()) }
        let passesOn = verb == "netem set" || verb == "probe"
        var passed: [String] = []
        var host: String?
        var out: String?
        var mermaid = false, json = false, k8s = false
        var kube = Plan.KubernetesOptions()
        var picture: (format: String, path: String)?
        var options = Topology.Options()
        options.directory = URL(fileURLWithPath: file).deletingLastPathComponent().path
        let bad = { (why: String) -> Int32 in FS.write(fd: 2, "vfwirectl topo: \(why)\n" + usage); return 2 }
        if let (arity, form) = named[verb], !arity.contains(names.count) { return bad("topo \(verb) takes \(form)") }
        while !rest.isEmpty {
            if passesOn && !["--pf", "--runtime", "--ignore-unsupported"].contains(rest[0]) { passed.append(rest.removeFirst()); continue }
            switch rest.removeFirst() {
            case "--host" where !rest.isEmpty: host = rest.removeFirst()
            case "--out" where !rest.isEmpty: out = rest.removeFirst()
            case "--mermaid": mermaid = true
            case "--json": json = true
            case "--k8s": k8s = true
            case "--image" where !rest.isEmpty: kube.image = rest.removeFirst()
            case "--resource" where !rest.isEmpty: kube.netdeviceResource = rest.removeFirst()
            case "--vfio-resource" where !rest.isEmpty: kube.vfioResource = rest.removeFirst()
            case let f where ["--svg", "--png", "--html"].contains(f) && !rest.isEmpty: picture = (String(f.dropFirst(2)), rest.removeFirst())
            case "--pf" where !rest.isEmpty:
                let names = rest.removeFirst().split(separator: ",").map { InterfaceName(String($0)) }
                guard !names.isEmpty, !names.contains(nil) else { return bad("--pf takes interface names, comma-separated") }
                options.pfs = names.compactMap { $0 }
            case "--runtime" where !rest.isEmpty:
                guard let r = Topology.Runtime(rawValue: rest.removeFirst()) else { return bad("--runtime is netns, podman or docker") }
                options.runtime = r
            case "--ignore-unsupported": options.ignoreUnsupported = true
            case let other: return bad("unknown option \(other)")
            }
        }
        if verb == "export" && !k8s { return bad("export needs a format: --k8s") }
        let env = ProcessInfo.processInfo.environment
        let say = { (s: String) in FS.write(fd: 1, s + "\n") }
        do {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw TopologyError(line: nil, message: "cannot read \(file)")
            }
            let topology = try Topology.parse(text, options: options)
            for w in topology.warnings { FS.write(fd: 2, "vfwirectl topo: \(file): warning: \(w)\n") }
            if let host, ["up", "down", "inspect"].contains(verb), !topology.nodes.contains(where: { $0.host == host }) {
                let hosts = Set(topology.nodes.compactMap(\.host)).sorted()
                throw TopologyError(line: nil, message: "no node is on host \(host): "
                    + (hosts.isEmpty ? "the file places no node on a host (a node's host: key); drop --host" : "the file's hosts are \(hosts.joined(separator: ", "))"))
            }
            let plan = try Plan(topology)
            let state = (env["VFWIRE_TOPO_STATE"] ?? RunPaths.standard.topologies) + "/" + plan.topology.name
            let runner = Runner(plan: plan, stateDir: state,
                                binDirs: (env["VFWIRE_CNI_PATH"] ?? "/opt/cni/bin:/usr/lib/cni").split(separator: ":").map(String.init),
                                host: host, nics: nics, vfState: vfState, say: say)
            switch verb {
            case "plan":
                // A plan may be made anywhere; VF capacity can only be counted where the PFs are.
                let missing = topology.pfPool.filter { nics.pf(netdev: $0) == nil }
                let hosts = Set(topology.nodes.compactMap(\.host))
                if host == nil && hosts.count > 1 {
                    // Which host this is, only --host says; counting every host's ends here would be wrong.
                    FS.write(fd: 2, "vfwirectl topo: \(file): note: nodes on \(hosts.count) hosts; VF capacity checked only with --host\n")
                } else if missing.isEmpty { try runner.checkVFs(runner.unattachedEnds()) } else {
                    FS.write(fd: 2, "vfwirectl topo: \(file): note: \(missing.map(\.value).joined(separator: ", ")) not on this host; VF capacity not checked\n")
                }
                try plan.write(to: out ?? state)
                FS.write(fd: 1, json ? plan.document().text : plan.table())
            case "up": try runner.up()
            case "down": try runner.down()
            case "inspect": FS.write(fd: 1, json ? runner.inspectJSON() : runner.inspect())
            case "netem set":
                let want: Impairment
                do { want = try Impairment(flags: passed) } catch { return bad("\(error)") }
                try runner.setImpairment(names[0], want)
            case "netem show": FS.write(fd: 1, try runner.showImpairments(names.first))
            case "probe":
                if let given = passed.first(where: { $0 == "--from" || $0 == "--to" }) {
                    return bad("topo probe finds its namespaces from the nodes; drop \(given)")
                }
                let target = try runner.probeTarget(from: names[0], to: names[1])
                return probe(target.from, target.to, target.address, "\(names[0])->\(names[1])", passed)
            case "graph":
                if let picture, picture.format == "html" { try plan.html(to: picture.path) }
                else if let picture { try plan.picture(picture.format, to: picture.path) } else { FS.write(fd: 1, (mermaid ? plan.mermaid() : plan.dot())) }
            case "export": FS.write(fd: 1, try plan.kubernetes(kube))
            default: FS.write(fd: 2, usage); return 2
            }
            return 0
        } catch let all as TopologyProblems {
            for e in all.errors { FS.write(fd: 2, "vfwirectl topo: \(file): \(e)\n") }
            return 1
        } catch {
            FS.write(fd: 2, "vfwirectl topo: \(file): \(error)\n")
            return 1
        }
    }
}

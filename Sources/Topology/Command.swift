import FileSystem
import Foundation
import PFDriver
import VFState
import VFWireTypes

/// `vfwirectl topo …`: the command line of topologies.
public enum TopologyCommand {
    public static let usage = """
    usage: vfwirectl topo plan FILE [--out DIR] [--json]    check FILE, write its CNI configs, print the plan
           vfwirectl topo up FILE [--host NAME]             start this host's nodes and attach their links
           vfwirectl topo down FILE [--host NAME]           detach every link and stop every node (idempotent)
           vfwirectl topo inspect FILE [--host NAME] [--json]  live state: nodes, interfaces, VFs, PFs, VLANs, MACs, addresses
           vfwirectl topo graph FILE [--mermaid | --svg OUT | --png OUT | --html OUT]  Graphviz DOT, Mermaid, or drawn by dot
           vfwirectl topo export FILE --k8s [--image IMAGE] [--resource NAME] [--vfio-resource NAME]
                                  Multus NetworkAttachmentDefinitions and Pods, as YAML on stdout
    FILE is vfwire's topology format or containerlab's (.clab.yml). Every verb also takes
      --pf PF[,PF]           the PFs to take VFs from (a containerlab file has no place for them)
      --runtime R            run every node on netns, podman or docker (containerlab's nodes: docker)
      --ignore-unsupported   skip, with a warning, keys that have no vfwire meaning instead of refusing
    State lives in /run/vfwire/topo/NAME (VFWIRE_TOPO_STATE overrides); plugins are looked up in
    /opt/cni/bin and /usr/lib/cni (VFWIRE_CNI_PATH overrides).

    """

    public static func run(_ args: [String], nics: NICs, vfState: StateDir) -> Int32 {
        var rest = args
        guard rest.count >= 2 else { FS.write(fd: 2, usage); return 2 }
        let verb = rest.removeFirst()
        let file = rest.removeFirst()
        var host: String?
        var out: String?
        var mermaid = false, json = false, k8s = false
        var kube = Plan.KubernetesOptions()
        var picture: (format: String, path: String)?
        var options = Topology.Options()
        options.directory = URL(fileURLWithPath: file).deletingLastPathComponent().path
        let bad = { (why: String) -> Int32 in FS.write(fd: 2, "vfwirectl topo: \(why)\n" + usage); return 2 }
        while !rest.isEmpty {
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
                if missing.isEmpty { try runner.checkVFs(runner.unattachedEnds()) } else {
                    FS.write(fd: 2, "vfwirectl topo: \(file): note: \(missing.map(\.value).joined(separator: ", ")) not on this host; VF capacity not checked\n")
                }
                try plan.write(to: out ?? state)
                FS.write(fd: 1, json ? plan.document().text : plan.table())
            case "up": try runner.up()
            case "down": try runner.down()
            case "inspect": FS.write(fd: 1, json ? runner.inspectJSON() : runner.inspect())
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

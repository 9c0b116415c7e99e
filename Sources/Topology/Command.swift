import FileSystem
import Foundation
import PFDriver
import VFState
import VFWireTypes

/// `vfwirectl topo …`: the command line of topologies.
public enum TopologyCommand {
    public static let usage = """
    usage: vfwirectl topo plan FILE [--out DIR]      check FILE, write its CNI configs, print the plan
           vfwirectl topo up FILE [--host NAME]      start this host's nodes and attach their links
           vfwirectl topo down FILE [--host NAME]    detach every link and stop every node (idempotent)
           vfwirectl topo inspect FILE [--host NAME] nodes, interfaces, VFs, PFs, VLANs, MACs, addresses
           vfwirectl topo graph FILE [--mermaid]     Graphviz DOT (or Mermaid) of the topology
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
        var mermaid = false
        while !rest.isEmpty {
            switch rest.removeFirst() {
            case "--host" where !rest.isEmpty: host = rest.removeFirst()
            case "--out" where !rest.isEmpty: out = rest.removeFirst()
            case "--mermaid": mermaid = true
            default: FS.write(fd: 2, usage); return 2
            }
        }
        let env = ProcessInfo.processInfo.environment
        let say = { (s: String) in FS.write(fd: 1, s + "\n") }
        do {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw TopologyError(line: nil, message: "cannot read \(file)")
            }
            let plan = try Plan(try Topology.parse(text))
            let state = (env["VFWIRE_TOPO_STATE"] ?? RunPaths.standard.topologies) + "/" + plan.topology.name
            let runner = Runner(plan: plan, stateDir: state,
                                binDirs: (env["VFWIRE_CNI_PATH"] ?? "/opt/cni/bin:/usr/lib/cni").split(separator: ":").map(String.init),
                                host: host, nics: nics, vfState: vfState, say: say)
            switch verb {
            case "plan":
                try plan.write(to: out ?? state)
                FS.write(fd: 1, plan.table())
            case "up": try runner.up()
            case "down": try runner.down()
            case "inspect": FS.write(fd: 1, runner.inspect())
            case "graph": FS.write(fd: 1, (mermaid ? plan.mermaid() : plan.dot()))
            default: FS.write(fd: 2, usage); return 2
            }
            return 0
        } catch {
            FS.write(fd: 2, "vfwirectl topo: \(file): \(error)\n")
            return 1
        }
    }
}

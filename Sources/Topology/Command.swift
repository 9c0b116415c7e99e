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
        guard rest.count >= 2 else { FileHandle.standardError.write(Data(usage.utf8)); return 2 }
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
            default: FileHandle.standardError.write(Data(usage.utf8)); return 2
            }
        }
        let env = ProcessInfo.processInfo.environment
        let say = { (s: String) in FileHandle.standardOutput.write(Data((s + "\n").utf8)) }
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
                FileHandle.standardOutput.write(Data(plan.table().utf8))
            case "up": try runner.up()
            case "down": try runner.down()
            case "inspect": FileHandle.standardOutput.write(Data(runner.inspect().utf8))
            case "graph": FileHandle.standardOutput.write(Data((mermaid ? plan.mermaid() : plan.dot()).utf8))
            default: FileHandle.standardError.write(Data(usage.utf8)); return 2
            }
            return 0
        } catch {
            FileHandle.standardError.write(Data("vfwirectl topo: \(file): \(error)\n".utf8))
            return 1
        }
    }
}

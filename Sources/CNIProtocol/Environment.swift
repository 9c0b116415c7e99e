import VFWireTypes

/// The CNI_* variables of one invocation, checked against the spec's rules for the verb.
public struct CNIEnvironment: Sendable {
    public var command: CNICommand
    public var containerID: CNIIdentifier?
    public var netns: String?
    public var ifname: InterfaceName?
    public var args: CNIArgs
    public var path: [String]
    /// The whole process environment, handed on to delegates.
    public var all: [String: String]

    public init(_ env: [String: String]) throws(CNIError) {
        all = env
        guard let c = env["CNI_COMMAND"], !c.isEmpty else {
            throw .invalidEnvironment("CNI_COMMAND is not set: vfwire is a CNI plugin, run by a container runtime")
        }
        guard let cmd = CNICommand(rawValue: c) else {
            throw .invalidEnvironment("CNI_COMMAND \(c) is not one of ADD, DEL, CHECK, STATUS, GC, VERSION")
        }
        command = cmd
        path = (env["CNI_PATH"] ?? "").split(separator: ":").map(String.init)
        args = try CNIArgs(env["CNI_ARGS"] ?? "")
        let perAttachment: Bool = [.add, .del, .check].contains(cmd)

        if let id = env["CNI_CONTAINERID"], !id.isEmpty {
            guard let v = CNIIdentifier(id) else {
                throw .invalidEnvironment("CNI_CONTAINERID \(id) is not valid: it must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
            }
            containerID = v
        } else if perAttachment {
            throw .invalidEnvironment("CNI_CONTAINERID is required for \(cmd.rawValue)")
        }
        if let n = env["CNI_IFNAME"], !n.isEmpty {
            guard let v = InterfaceName(n) else {
                throw .invalidEnvironment("CNI_IFNAME \(n) is not a valid interface name (1-15 bytes, no '/', ':', '%' or spaces)")
            }
            ifname = v
        } else if perAttachment {
            throw .invalidEnvironment("CNI_IFNAME is required for \(cmd.rawValue)")
        }
        if let ns = env["CNI_NETNS"], !ns.isEmpty {
            guard ns.hasPrefix("/"), !ns.split(separator: "/").contains("..") else {
                throw .invalidEnvironment("CNI_NETNS \(ns) must be an absolute path to a network namespace")
            }
            netns = ns
        } else if cmd == .add || cmd == .check {
            // DEL alone may come without one: the namespace can be gone already.
            throw .invalidEnvironment("CNI_NETNS is required for \(cmd.rawValue)")
        }
    }
}

/// CNI_ARGS: `K=V;K=V`. Keys we do not know are an error unless `IgnoreUnknown` is true, as
/// libcni's LoadArgs does, so a typo in MAC does not silently pass.
public struct CNIArgs: Sendable, Equatable {
    public var mac: MACAddress?
    public var pairs: [String: String] = [:]

    static let known: Set<String> = ["IgnoreUnknown", "MAC", "K8S_POD_NAME", "K8S_POD_NAMESPACE",
                                     "K8S_POD_INFRA_CONTAINER_ID", "K8S_POD_UID"]

    public init(_ text: String) throws(CNIError) {
        for item in text.split(separator: ";") where !item.isEmpty {
            let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard kv.count == 2, !kv[0].isEmpty else {
                throw .invalidEnvironment("CNI_ARGS item '\(item)' is not KEY=VALUE")
            }
            pairs[String(kv[0])] = String(kv[1])
        }
        let ignore = ["1", "true"].contains(pairs["IgnoreUnknown"]?.lowercased() ?? "")
        if !ignore, let unknown = pairs.keys.sorted().first(where: { !Self.known.contains($0) }) {
            throw .invalidEnvironment("CNI_ARGS key \(unknown) is not known to vfwire (set IgnoreUnknown=1 to allow it)")
        }
        if let m = pairs["MAC"] {
            guard let mac = MACAddress(m), mac.isUsableUnicast else {
                throw .invalidEnvironment("CNI_ARGS MAC=\(m) is not a unicast MAC address like 02:00:00:00:00:01")
            }
            self.mac = mac
        }
    }
}

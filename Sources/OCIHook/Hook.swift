import FoundationEssentials
import CNIClient
import CNIProtocol
import FileSystem
import Sysfs
import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

/// vfwire-hook: an OCI hook that attaches a container's networks at createRuntime (or
/// prestart) and detaches them at poststop, for runtimes that have no CNI of their own.
public struct Hook: Sendable {
    public var confDir: String
    public var client: CNIClient
    public var sysfs: SysfsRoot

    public init(confDir: String, client: CNIClient, sysfs: SysfsRoot = .kernel) {
        self.confDir = confDir; self.client = client; self.sysfs = sysfs
    }

    /// Kata marks a confidential guest (TDX, SEV-SNP) with these annotations.
    static let confidentialKeys = ["io.katacontainers.config.hypervisor.confidential_guest",
                                   "io.katacontainers.config.hypervisor.confidential_guest_type"]
    public static let allowConfidential = "vfwire.io/allow-confidential-passthrough"
    public static let confDirAnnotation = "vfwire.io/conf-dir"
    public static let topologyState = "/run/vfwire/topo"

    /// Checks everything, then attaches every requested network. Any failure detaches what
    /// was attached, so the runtime's abort of create leaves nothing behind.
    public func create(_ state: OCIState) throws -> [String] {
        guard let id = CNIIdentifier(state.id) else { throw HookError.invalidEnvironment("container id '\(state.id)' is not a valid CNI container ID") }
        let config = try OCIConfig.load(bundle: state.bundle)
        let annotations = (config.annotations ?? [:]).merging(state.annotations ?? [:]) { _, s in s }
        let text = annotations[NetworkRequest.annotation] ?? config.env(NetworkRequest.environment) ?? ""
        let requests = try NetworkRequest.parse(text)
        let vfioDevices = (config.linux?.devices ?? []).compactMap { d -> Int? in
            guard d.path.hasPrefix("/dev/vfio/") else { return nil }
            return Int(d.path.dropFirst("/dev/vfio/".count))
        }
        // A topology keeps its networks beside its plan, and says where. The container's side
        // may only point into topology state: the hook runs as root on whatever configs it loads.
        let dir = annotations[Self.confDirAnnotation] ?? config.env("VFWIRE_CONF_DIR") ?? confDir
        if dir != confDir {
            guard dir.hasPrefix(Self.topologyState + "/"), !dir.split(separator: "/").contains("..") else {
                throw HookError.invalidConfig("the CNI config directory \(dir) must be \(confDir) or a topology's under \(Self.topologyState)")
            }
        }
        let lists = try requests.map { (r) throws in try NetworkList.load(r.network, from: dir) }
        let vfioNetworks = zip(requests, lists).filter { $1.plugins.contains { $0["mode"]?.stringValue == "vfio" } }.map { $0.0.network.value }

        if !vfioDevices.isEmpty || !vfioNetworks.isEmpty {
            try refuseConfidential(annotations, what: vfioDevices.map { "/dev/vfio/\($0)" } + vfioNetworks.map { "network \($0) (vfio mode)" })
            if !vfioDevices.isEmpty { try IOMMUGroup.requireIOMMU(sysfs) }
            for n in vfioDevices {
                do { try IOMMUGroup(number: n, root: sysfs).checkViable() } catch {
                    throw HookError.deviceBusy("/dev/vfio/\(n) in linux.devices cannot be passed through: \(error)")
                }
            }
        }
        guard !requests.isEmpty else { return [] }
        guard let pid = state.pid, pid > 0 else { throw HookError.invalidEnvironment("the OCI state has no pid: run vfwire-hook at createRuntime or prestart") }
        let proc = "/proc/\(pid)/ns/net"
        guard FS.exists(proc) else { throw HookError.invalidEnvironment("process \(pid) of container \(id) is gone: no \(proc)") }
        // poststop comes after the container's processes, and `proc` with them, are gone; a
        // namespace the runtime still holds then still holds the VF, and DEL must find it there.
        let netns = Self.lastingPath(of: proc, configured: config.networkNamespacePath) ?? proc
        for l in Set(lists.map(\.path)) { try client.negotiate(lists.first { $0.path == l }!) }

        var done: [String] = []
        do {
            for (r, list) in zip(requests, lists) {
                var runtime: [String: JSONValue] = [:]
                if let m = r.mac { runtime["mac"] = .string(m.description) }
                if let v = r.vlan { runtime["vlan"] = .number(Double(v.id)) }
                let args = "IgnoreUnknown=1" + (r.mac.map { ";MAC=\($0)" } ?? "")
                _ = try client.add(list, containerID: id, netns: netns, ifname: r.ifname, args: args, runtimeConfig: runtime)
                done.append("\(r.network):\(r.ifname)")
            }
        } catch {
            _ = try? poststop(state)
            throw error
        }
        return done
    }

    /// DEL for everything cached for the container; safe to repeat, and after a failed create.
    public func poststop(_ state: OCIState) throws -> [String] {
        guard let id = CNIIdentifier(state.id) else { throw HookError.invalidEnvironment("container id '\(state.id)' is not a valid CNI container ID") }
        var first: (any Error)?
        var done: [String] = []
        for var a in client.cached(id) {
            // The container's processes are gone; its namespace may be too.
            if !FS.exists(a.netns) { a.netns = "" }
            do { try client.del(a); done.append("\(a.network):\(a.ifname)") } catch { if first == nil { first = error } }
        }
        if let first { throw first }
        return done
    }

    /// A path naming the same network namespace as `proc` that outlives the container's
    /// processes: the one config.json names, or a bind mount of it (docker's libnetwork mounts
    /// a container's namespace under its exec-root at prestart, before createRuntime).
    static func lastingPath(of proc: String, configured: String?) -> String? {
        var want = stat()
        guard stat(proc, &want) == 0 else { return nil }
        func same(_ path: String) -> Bool {
            var st = stat()
            return stat(path, &st) == 0 && st.st_dev == want.st_dev && st.st_ino == want.st_ino
        }
        if let configured, same(configured) { return configured }
        // mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT ...; an nsfs mount's root is net:[INODE].
        let root = "net:[\(want.st_ino)]"
        for line in (FS.readString("/proc/self/mountinfo") ?? "").split(separator: "\n") {
            let f = line.split(separator: " ", maxSplits: 5)
            if f.count > 4, f[3] == root, same(String(f[4])) { return String(f[4]) }
        }
        return nil
    }

    func refuseConfidential(_ annotations: [String: String], what: [String]) throws {
        let confidential = Self.confidentialKeys.contains { k in
            guard let v = annotations[k]?.lowercased() else { return false }
            return v == "true" || v.contains("tdx") || v.contains("snp") || v.contains("sev")
        }
        guard confidential, annotations[Self.allowConfidential]?.lowercased() != "true" else { return }
        throw HookError.invalidConfig("refusing VF passthrough (\(what.joined(separator: ", "))) into a confidential guest: "
            + "the device is not attested, and its DMA goes through bounce buffers in shared memory. "
            + "Set the annotation \(Self.allowConfidential)=true to accept that")
    }
}

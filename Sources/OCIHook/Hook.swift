import FoundationEssentials
import CNIClient
import CNIProtocol
import FileSystem
import JSON
import Namespaces
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
    public static let topologyState = RunPaths.standard.topologies

    /// Set by `prepare` in config.json, so that a createRuntime hook configured as well (podman's
    /// hooks.d) leaves the container's networks to the one that attached them.
    public static let preparedAnnotation = "vfwire.io/prepared"
    /// Where `prepare` keeps a container's namespace and device files.
    public static let netnsDir = RunPaths.standard.netns
    public static let devinfoDir = RunPaths.standard.devinfo

    /// The networks a container asks for, each with its list.
    struct Requests {
        var items: [(request: NetworkRequest, list: NetworkList)]
        var vfioNetworks: [String] { items.filter { $0.list.isVFIO }.map { $0.request.network.value } }
    }

    func requests(_ config: BundleConfig, annotations: [String: String]) throws -> Requests {
        let text = annotations[NetworkRequest.annotation] ?? config.env(NetworkRequest.environment) ?? ""
        let requests = try NetworkRequest.parse(text)
        // A topology keeps its networks beside its plan, and says where. The container's side
        // may only point into topology state: the hook runs as root on whatever configs it loads.
        let dir = annotations[Self.confDirAnnotation] ?? config.env("VFWIRE_CONF_DIR") ?? confDir
        if dir != confDir {
            guard dir.hasPrefix(Self.topologyState + "/"), !dir.split(separator: "/").contains("..") else {
                throw HookError.invalidConfig("the CNI config directory \(dir) must be \(confDir) or a topology's under \(Self.topologyState)")
            }
        }
        let lists = try requests.map { (r) throws in try NetworkList.load(r.network, from: dir) }
        for l in Set(lists.map(\.path)) { try client.negotiate(lists.first { $0.path == l }!) }
        return Requests(items: Array(zip(requests, lists)))
    }

    /// Refuses a VF passthrough that vfio could not isolate or that a confidential guest would
    /// take unattested, for the vfio devices config.json names and the vfio networks asked for.
    func checkPassthrough(_ config: BundleConfig, annotations: [String: String], _ r: Requests) throws {
        let vfioDevices = config.devicePaths.compactMap { p -> Int? in
            guard p.hasPrefix("/dev/vfio/") else { return nil }
            return Int(p.dropFirst("/dev/vfio/".count))
        }
        guard !vfioDevices.isEmpty || !r.vfioNetworks.isEmpty else { return }
        try refuseConfidential(annotations, what: vfioDevices.map { "/dev/vfio/\($0)" } + r.vfioNetworks.map { "network \($0) (vfio mode)" })
        try IOMMUGroup.requireIOMMU(sysfs)
        for n in vfioDevices {
            do { try IOMMUGroup(number: n, root: sysfs).checkViable() } catch {
                throw HookError.deviceBusy("/dev/vfio/\(n) in linux.devices cannot be passed through: \(error)")
            }
        }
    }

    /// ADD for every request, in order; a failure detaches what was attached before it.
    func attach(_ r: Requests, id: CNIIdentifier, netns: String) throws -> [(NetworkRequest, CNIResult)] {
        var done: [(NetworkRequest, CNIResult)] = []
        do {
            for (req, list) in r.items {
                var runtime: [String: JSONValue] = [:]
                if let m = req.mac { runtime["mac"] = .string(m.description) }
                if let v = req.vlan { runtime["vlan"] = .number(Double(v.id)) }
                let args = "IgnoreUnknown=1" + (req.mac.map { ";MAC=\($0)" } ?? "")
                let out = try client.add(list, containerID: id, netns: netns, ifname: req.ifname, args: args, runtimeConfig: runtime)
                let result: CNIResult
                do { result = try out.decode(CNIResult.self) } catch {
                    throw HookError.decode("network \(req.network) returned a result that is not a CNI result: \(error)")
                }
                done.append((req, result))
            }
        } catch {
            _ = try? detach(id)
            throw error
        }
        return done
    }

    /// Attaches at createRuntime (or prestart), when the container's namespace exists. A vfio
    /// network cannot be attached here: its device had to be in config.json before create.
    public func create(_ state: OCIState) throws -> [String] {
        let id = try containerID(state.id)
        let config = try BundleConfig(bundle: state.bundle)
        let annotations = config.annotations.merging(state.annotations ?? [:]) { _, s in s }
        if annotations[Self.preparedAnnotation] == "true" { return [] }
        let r = try requests(config, annotations: annotations)
        if !r.vfioNetworks.isEmpty {
            throw HookError.invalidConfig("network \(r.vfioNetworks.joined(separator: ", ")) is in vfio mode: its /dev/vfio device must be in config.json "
                + "before the container is created, which a hook cannot do. Run the container through vfwire-runc (docker/podman --runtime vfwire-runc)")
        }
        try checkPassthrough(config, annotations: annotations, r)
        guard !r.items.isEmpty else { return [] }
        guard let pid = state.pid, pid > 0 else { throw HookError.invalidEnvironment("the OCI state has no pid: run vfwire-hook at createRuntime or prestart") }
        let proc = "/proc/\(pid)/ns/net"
        guard FS.exists(proc) else { throw HookError.invalidEnvironment("process \(pid) of container \(id) is gone: no \(proc)") }
        // poststop comes after the container's processes, and `proc` with them, are gone; a
        // namespace the runtime still holds then still holds the VF, and DEL must find it there.
        let netns = Self.lastingPath(of: proc, configured: config.networkNamespacePath) ?? proc
        return try attach(r, id: id, netns: netns).map { "\($0.0.network):\($0.0.ifname)" }
    }

    /// Attaches every network before `runc create`, for a runtime wrapper: the container gets a
    /// namespace made here unless the runtime named one, and each vfio VF's /dev/vfio nodes, their
    /// device cgroup rules and a devinfo file are written into config.json, because runc sets up
    /// devices before any hook runs. `teardown` becomes a poststop hook. Any failure leaves
    /// nothing attached and config.json as it was.
    public func prepare(bundle: String, id text: String, teardown: (path: String, args: [String])) throws
        -> (attached: [String], warnings: [String]) {
        let id = try containerID(text)
        var config = try BundleConfig(bundle: bundle)
        let r = try requests(config, annotations: config.annotations)
        try checkPassthrough(config, annotations: config.annotations, r)
        guard !r.items.isEmpty else { return ([], []) }
        var warnings: [String] = []
        if !r.vfioNetworks.isEmpty {
            warnings = config.userspaceDriverGaps.map { "network \(r.vfioNetworks.joined(separator: ", ")) gives a vfio device, but the container has \($0)" }
        }
        let netns: String
        if let path = config.networkNamespacePath {
            netns = path
        } else {
            try FS.mkdirs(Self.netnsDir)
            netns = try PersistentNetNS.create(at: Self.netnsDir + "/" + id.value).path
            config.joinNetworkNamespace(netns)
        }
        do {
            let done = try attach(r, id: id, netns: netns)
            let infoDir = Self.devinfoDir + "/" + id.value
            var vfio = false
            for (req, result) in done {
                guard let iface = result.interfaces?.last, let device = iface.vfioDevice else { continue }
                try config.addCharDevice("/dev/vfio/vfio")
                try config.addCharDevice(device)
                try FS.mkdirs(infoDir)
                try DeviceInfo(pciAddress: iface.pciID, vfioDevice: device).write(to: infoDir + "/\(req.ifname).json")
                vfio = true
            }
            if vfio { config.addReadOnlyBind(source: infoDir, destination: Self.devinfoDir) }
            config.addHook("poststop", path: teardown.path, args: teardown.args)
            config.annotate(Self.preparedAnnotation, "true")
            try config.save()
            return (done.map { "\($0.0.network):\($0.0.ifname)" }, warnings)
        } catch {
            _ = try? detach(id)
            throw error
        }
    }

    /// DEL for everything cached for the container, then the namespace and device files
    /// `prepare` made; safe to repeat, and after a failed create.
    public func poststop(_ state: OCIState) throws -> [String] {
        try detach(try containerID(state.id))
    }

    func detach(_ id: CNIIdentifier) throws -> [String] {
        var first: (any Error)?
        var done: [String] = []
        for var a in client.cached(id) {
            // The container's processes are gone; its namespace may be too.
            if !FS.exists(a.netns) { a.netns = "" }
            do { try client.del(a); done.append("\(a.network):\(a.ifname)") } catch { if first == nil { first = error } }
        }
        if let first { throw first }
        // Only once every VF is out: a kernel-mode VF in the namespace returns to the host
        // when the namespace goes, but under another name.
        PersistentNetNS.remove(at: Self.netnsDir + "/" + id.value)
        FS.removeTree(Self.devinfoDir + "/" + id.value)
        return done
    }

    func containerID(_ text: String) throws -> CNIIdentifier {
        guard let id = CNIIdentifier(text) else { throw HookError.invalidEnvironment("container id '\(text)' is not a valid CNI container ID") }
        return id
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

import CNIProtocol
import FileSystem
import JSON
import Subprocess
import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

/// What the client could not do: a plugin it cannot find or that cannot speak the list's
/// version, a plugin that failed (its own error, as it printed it), or one that said nothing.
public enum CNIClientError: Error, CustomStringConvertible, Sendable {
    case badConfig(String)
    case pluginMissing(String)
    case incompatible(String)
    case pluginFailed(CNIError)
    case noResult(String)
    public var description: String {
        switch self {
        case .badConfig(let m), .pluginMissing(let m), .incompatible(let m), .noResult(let m): m
        case .pluginFailed(let e): e.description
        }
    }
}

/// One network attached to one container, as the client remembers it for DEL: what it ran,
/// with which parameters, and what came back.
public struct CachedAttachment: Codable, Sendable {
    public var containerID: String
    public var network: String
    public var ifname: String
    public var netns: String
    public var args: String
    public var cniVersion: String
    /// Each plugin's config as it was sent, without prevResult.
    public var plugins: [JSONValue]
    public var result: JSONValue?
}

/// What libcni does, for runtimes that have no CNI of their own: run a network list's plugins
/// in order with prevResult on ADD, in reverse on DEL, and keep what ADD did for DEL.
public struct CNIClient: Sendable {
    public var binDirs: [String]
    public var cacheDir: String

    public init(binDirs: [String], cacheDir: String) {
        self.binDirs = binDirs; self.cacheDir = cacheDir
    }

    func executable(_ type: String) throws -> String {
        if let exe = Child.find(type, in: binDirs) { return exe }
        throw CNIClientError.pluginMissing("CNI plugin \(type) not found in \(binDirs.joined(separator: ":"))")
    }

    func env(_ command: String, _ a: CachedAttachment) -> [String: String] {
        ["CNI_COMMAND": command, "CNI_CONTAINERID": a.containerID, "CNI_NETNS": a.netns, "CNI_IFNAME": a.ifname,
         "CNI_ARGS": a.args, "CNI_PATH": binDirs.joined(separator: ":"),
         "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    }

    /// Asks each plugin for its versions and refuses a list that one of them cannot speak.
    public func negotiate(_ list: NetworkList) throws {
        struct V: Decodable { var supportedVersions: [String] }
        for p in list.plugins {
            let type = p["type"]!.stringValue!
            let exe = try executable(type)
            let out = try Child(exe, env: ["CNI_COMMAND": "VERSION"],
                                stdin: Array("{\"cniVersion\":\"\(list.cniVersion.rawValue)\"}".utf8)).wait()
            guard out.status == 0, let v = try? JSON.decode(V.self, from: out.stdout) else {
                throw CNIClientError.incompatible("CNI plugin \(type) does not answer VERSION")
            }
            guard v.supportedVersions.contains(list.cniVersion.rawValue) else {
                throw CNIClientError.incompatible("network \(list.name) is cniVersion \(list.cniVersion.rawValue), which plugin \(type) does not speak (it has \(v.supportedVersions.joined(separator: ", ")))")
            }
        }
    }

    func cachePath(_ containerID: String, _ network: String, _ ifname: String) -> String {
        cacheDir + "/" + containerID + "/" + network + "-" + ifname + ".json"
    }

    func store(_ a: CachedAttachment) throws {
        let p = cachePath(a.containerID, a.network, a.ifname)
        try FS.mkdirs(cacheDir + "/" + a.containerID)
        // The JSON module, not Foundation's coders: a 128-node up stores 512 of these, and
        // through Foundation they and the results were an eighth of its CPU.
        do { try FS.writeAtomically(p, try JSON.encode(a)) }
        catch let e as FSError { throw e } catch { throw FSError.failed("cannot encode the CNI cache: \(error)") }
    }

    /// ADD through the whole list. The cache entry is written before the first plugin runs, so
    /// a crash half way still leaves DEL something to undo; a failure undoes what ran.
    public func add(_ list: NetworkList, containerID: CNIIdentifier, netns: String, ifname: InterfaceName,
                    args: String, runtimeConfig: [String: JSONValue]) throws -> JSONValue {
        var a = CachedAttachment(containerID: containerID.value, network: list.name, ifname: ifname.value,
                                 netns: netns, args: args, cniVersion: list.cniVersion.rawValue, plugins: [], result: nil)
        a.plugins = list.plugins.map { p in
            var c = p
            c["name"] = .string(list.name)
            c["cniVersion"] = .string(list.cniVersion.rawValue)
            // As libcni: runtime values go only to plugins that declare the capability.
            let caps = p["capabilities"]?.objectValue ?? [:]
            let granted = runtimeConfig.filter { caps[$0.key] == .bool(true) }
            if !granted.isEmpty { c["runtimeConfig"] = .object(granted) }
            c["capabilities"] = nil
            return .object(c)
        }
        try store(a)
        var prev: JSONValue?
        do {
            for p in a.plugins {
                prev = try run("ADD", p, prev: prev, a)
            }
        } catch {
            try? del(a)
            throw error
        }
        a.result = prev
        try store(a)
        return prev ?? .object([:])
    }

    func run(_ command: String, _ plugin: JSONValue, prev: JSONValue?, _ a: CachedAttachment) throws -> JSONValue? {
        var conf = plugin.objectValue ?? [:]
        if let prev { conf["prevResult"] = prev }
        let type = conf["type"]?.stringValue ?? ""
        let input = JSONValue.object(conf).serialized
        let out = try Child(try executable(type), env: env(command, a), stdin: input).wait()
        guard out.status == 0 else {
            let who = "\(type) \(command) for network \(a.network)"
            throw CNIClientError.pluginFailed(out.cniError(prefix: who, name: who))
        }
        guard command == "ADD" else { return nil }
        do { return try JSONParser().parse(out.stdout) } catch {
            if case .duplicateKey = error.kind {
                throw CNIClientError.noResult("\(type) ADD for network \(a.network) returned an ambiguous result: \(error)")
            }
            throw CNIClientError.noResult("\(type) ADD for network \(a.network) returned no result")
        }
    }

    /// DEL through the list in reverse, with the cached result, then forget the attachment.
    /// Every plugin gets its DEL even when an earlier one failed; the first error is reported.
    public func del(_ a: CachedAttachment) throws {
        var first: (any Error)?
        for p in a.plugins.reversed() {
            do { _ = try run("DEL", p, prev: a.result, a) } catch { if first == nil { first = error } }
        }
        if let first { throw first }
        unlink(cachePath(a.containerID, a.network, a.ifname))
        rmdir(cacheDir + "/" + a.containerID)
    }

    /// Everything cached for a container.
    public func cached(_ containerID: CNIIdentifier) -> [CachedAttachment] {
        let dir = cacheDir + "/" + containerID.value
        return FS.list(dir).filter { $0.hasSuffix(".json") }.sorted().compactMap { f in
            FS.read(dir + "/" + f).flatMap { try? JSON.decode(CachedAttachment.self, from: $0) }
        }
    }
}

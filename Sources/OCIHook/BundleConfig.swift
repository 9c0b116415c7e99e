import FoundationEssentials
import CNIProtocol
import FileSystem
import JSON
import Sysfs
import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

/// A bundle's config.json held whole, for the edits made before `runc create`. Every key the
/// runtime wrote is kept, including the ones vfwire knows nothing of.
public struct BundleConfig {
    public let path: String
    public private(set) var json: [String: JSONValue]

    public init(bundle: String) throws {
        path = bundle + "/config.json"
        guard let bytes = FS.read(path) else { throw HookError.invalidEnvironment("cannot read \(path): is the bundle \(bundle) there?") }
        do {
            guard let o = try JSONDecoder().decode(JSONValue.self, from: Data(bytes)).objectValue else {
                throw HookError.decode("\(path) is not a JSON object")
            }
            json = o
        } catch let e as HookError { throw e } catch { throw HookError.decode("\(path) is not valid JSON: \(error)") }
    }

    public func save() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        do { try FS.writeAtomically(path, Array(encoder.encode(JSONValue.object(json)))) }
        catch let e as FSError { throw e } catch { throw HookError.io("cannot encode \(path): \(error)") }
    }

    public var annotations: [String: String] {
        (json["annotations"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
    }

    public mutating func annotate(_ key: String, _ value: String) {
        var a = json["annotations"]?.objectValue ?? [:]
        a[key] = .string(value)
        json["annotations"] = .object(a)
    }

    public func env(_ key: String) -> String? {
        for case .string(let e) in json["process"]?["env"]?.arrayValue ?? [] where e.hasPrefix(key + "=") {
            return String(e.dropFirst(key.count + 1))
        }
        return nil
    }

    /// The device nodes runc will create in the container.
    public var devicePaths: [String] {
        linux["devices"]?.arrayValue?.compactMap { $0["path"]?.stringValue } ?? []
    }

    /// The path of the network namespace the container joins, if the runtime named one.
    public var networkNamespacePath: String? {
        linux["namespaces"]?.arrayValue?.lazy.compactMap(\.objectValue)
            .first { $0["type"]?.stringValue == "network" }?["path"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Has the container join `path` instead of a namespace runc would make.
    public mutating func joinNetworkNamespace(_ path: String) {
        var list = (linux["namespaces"]?.arrayValue ?? []).filter { $0["type"]?.stringValue != "network" }
        list.append(.object(["type": .string("network"), "path": .string(path)]))
        linux["namespaces"] = .array(list)
    }

    /// A host character device, created in the container by runc and opened by the device
    /// cgroup: both must be in config.json before create, because runc sets them up before any
    /// hook runs.
    public mutating func addCharDevice(_ hostPath: String) throws {
        var st = stat()
        guard stat(hostPath, &st) == 0, (st.st_mode & S_IFMT) == S_IFCHR else {
            throw HookError.io("\(hostPath) is not a character device on the host")
        }
        let (major, minor) = (Double(deviceMajor(st.st_rdev)), Double(deviceMinor(st.st_rdev)))
        var devices = linux["devices"]?.arrayValue ?? []
        if !devices.contains(where: { $0["path"]?.stringValue == hostPath }) {
            devices.append(.object(["path": .string(hostPath), "type": .string("c"), "major": .number(major),
                                    "minor": .number(minor), "fileMode": .number(0o666), "uid": .number(0), "gid": .number(0)]))
        }
        linux["devices"] = .array(devices)
        var resources = linux["resources"]?.objectValue ?? [:]
        var rules = resources["devices"]?.arrayValue ?? []
        rules.append(.object(["allow": .bool(true), "type": .string("c"), "major": .number(major),
                              "minor": .number(minor), "access": .string("rwm")]))
        resources["devices"] = .array(rules)
        linux["resources"] = .object(resources)
    }

    public mutating func addReadOnlyBind(source: String, destination: String) {
        var mounts = json["mounts"]?.arrayValue ?? []
        mounts.append(.object(["destination": .string(destination), "type": .string("bind"), "source": .string(source),
                               "options": .array([.string("rbind"), .string("ro"), .string("nosuid"), .string("nodev")])]))
        json["mounts"] = .array(mounts)
    }

    public mutating func addHook(_ stage: String, path: String, args: [String]) {
        var hooks = json["hooks"]?.objectValue ?? [:]
        var list = hooks[stage]?.arrayValue ?? []
        list.append(.object(["path": .string(path), "args": .array(args.map(JSONValue.string)), "timeout": .number(60)]))
        hooks[stage] = .array(list)
        json["hooks"] = .object(hooks)
    }

    /// What a DPDK process needs that vfwire cannot give it, said before it fails in the
    /// container with an ENOMEM from its DMA maps or no memory at all.
    public var userspaceDriverGaps: [String] {
        var gaps: [String] = []
        let process = json["process"]?.objectValue ?? [:]
        let caps = process["capabilities"]?["effective"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let memlock = process["rlimits"]?.arrayValue?.first { $0["type"]?.stringValue == "RLIMIT_MEMLOCK" }
        let hard: Double = { if case .number(let n)? = memlock?["hard"] { return n } else { return 0 } }()
        // DPDK pins its hugepages for DMA: 1 GiB is a small pool, and the kernel's
        // RLIM_INFINITY arrives as a huge number.
        if !caps.contains("CAP_IPC_LOCK") && hard < Double(1 << 30) {
            gaps.append("neither CAP_IPC_LOCK nor an RLIMIT_MEMLOCK of 1 GiB or more (add --cap-add IPC_LOCK or --ulimit memlock=-1)")
        }
        let mounts = json["mounts"]?.arrayValue ?? []
        if !mounts.contains(where: { $0["type"]?.stringValue == "hugetlbfs" || ($0["source"]?.stringValue ?? "").hasPrefix("/dev/hugepages") }) {
            gaps.append("no hugetlbfs mount (bind /dev/hugepages, e.g. -v /dev/hugepages:/dev/hugepages)")
        }
        return gaps
    }

    private var linux: [String: JSONValue] {
        get { json["linux"]?.objectValue ?? [:] }
        set { json["linux"] = .object(newValue) }
    }
}

/// glibc's gnu_dev_major/minor, which Swift cannot import because they are macros over inline
/// functions in some glibc versions.
func deviceMajor(_ rdev: UInt) -> UInt { ((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~UInt(0xfff)) }
func deviceMinor(_ rdev: UInt) -> UInt { (rdev & 0xff) | ((rdev >> 12) & ~UInt(0xff)) }

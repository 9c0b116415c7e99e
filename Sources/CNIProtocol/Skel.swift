import JSON
import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

/// A plugin's network configuration, validated from the netconf the skeleton parsed.
public protocol CNIConfig {
    init(_ netconf: NetconfObject, args: CNIArgs) throws
}

/// What a plugin implements; `CNISkel` does the rest of the protocol: environment, stdin,
/// version gating, output and exit codes. Each verb gets the config decoded once.
public protocol CNIPlugin {
    associatedtype Config: CNIConfig
    func add(_ env: CNIEnvironment, _ config: Config) throws -> CNIResult
    func del(_ env: CNIEnvironment, _ config: Config) throws
    func check(_ env: CNIEnvironment, _ config: Config) throws
    func status(_ env: CNIEnvironment, _ config: Config) throws
    func gc(_ env: CNIEnvironment, _ config: Config) throws
    /// The CNI error a failure of the plugin's own is reported as. A `CNIError` is passed
    /// through without asking.
    func cniError(for error: any Error) -> CNIError
}

extension CNIPlugin {
    public func cniError(for error: any Error) -> CNIError { .internal("\(error)") }
}

/// The netconf on stdin as JSON: the object, every key kept for delegates, and its cniVersion.
public struct NetconfObject: Sendable {
    public var object: [String: JSONValue]
    public var cniVersion: CNIVersion

    public init(_ input: [UInt8]) throws(CNIError) {
        let parsed: JSONValue
        do { parsed = try JSONParser().parse(input) } catch {
            if case .duplicateKey = error.kind { throw .invalidConfig("the network configuration on stdin is ambiguous: \(error)") }
            throw .decode("the network configuration on stdin is not JSON: \(error)")
        }
        guard let o = parsed.objectValue else { throw .decode("the network configuration on stdin is not a JSON object") }
        object = o
        switch object["cniVersion"] {
        case nil, .null: throw .invalidConfig("cniVersion is missing")
        case .string(let v): cniVersion = try CNIVersion.parse(v)
        default: throw .decode("the network configuration on stdin is not a JSON object: cniVersion is not a string")
        }
    }
}

public enum CNISkel {
    /// Runs one invocation and returns the process exit code.
    public static func run<P: CNIPlugin>(_ plugin: P, environment: [String: String], stdin: [UInt8],
                                         write: ([UInt8]) -> Void) -> Int32 {
        var version = CNIVersion.latest
        do {
            // VERSION first and cheaply: runtimes call it to negotiate, often with no netconf at all.
            if environment["CNI_COMMAND"] == CNICommand.version.rawValue {
                write(versionReply(stdin))
                return 0
            }
            let env = try CNIEnvironment(environment)
            let netconf = try NetconfObject(stdin)
            version = netconf.cniVersion
            try version.allows(env.command)
            let config = try P.Config(netconf, args: env.args)
            switch env.command {
            case .add:
                let result = try plugin.add(env, config)
                do { write(try result.encoded(for: version)) } catch {
                    throw CNIError.io("cannot encode result: \(error)")
                }
            case .del: try plugin.del(env, config)
            case .check: try plugin.check(env, config)
            case .status: try plugin.status(env, config)
            case .gc: try plugin.gc(env, config)
            case .version: break
            }
            return 0
        } catch {
            var e = (error as? CNIError) ?? plugin.cniError(for: error)
            e.cniVersion = version.rawValue
            write((try? JSON.encode(e)) ?? Array("{\"code\":\(e.code)}".utf8))
            return 1
        }
    }

    /// The VERSION reply echoes the caller's cniVersion when it is one we speak.
    static func versionReply(_ stdin: [UInt8]) -> [UInt8] {
        let asked = (try? JSONParser().parse(stdin))?["cniVersion"]?.stringValue
        let reply = CNIVersion(rawValue: asked ?? "") ?? .latest
        let list = CNIVersion.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ",")
        return Array("{\"cniVersion\":\"\(reply.rawValue)\",\"supportedVersions\":[\(list)]}".utf8)
    }

    /// All of stdin, as runtimes pass a netconf or an OCI state there.
    public static func readStdin() -> [UInt8] {
        var input: [UInt8] = []
        while true {
            // Into uninitialised capacity: zeroing a 64 KiB buffer first faulted in all 16 of
            // its pages (about 3 µs each here) for a netconf that fills a fraction of one.
            var n = 0
            let chunk = [UInt8](unsafeUninitializedCapacity: 65536) { buf, count in
                n = read(0, buf.baseAddress, buf.count)
                count = max(n, 0)
            }
            if n > 0 { if input.isEmpty { input = chunk } else { input += chunk }; continue }
            if n < 0 && errno == EINTR { continue }
            return input
        }
    }

    /// Reads the process's stdin, environment and runs the plugin; never returns.
    public static func main<P: CNIPlugin>(_ plugin: P) -> Never {
        let input = readStdin()
        var env: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { env[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        let code = run(plugin, environment: env, stdin: input) { bytes in
            var off = 0
            while off < bytes.count {
                let n = bytes[off...].withUnsafeBytes { Glibc.write(1, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                off += n
            }
        }
        exit(code)
    }
}

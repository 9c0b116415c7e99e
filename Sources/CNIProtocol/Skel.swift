import FoundationEssentials
import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

/// What a plugin implements; `CNISkel` does the rest of the protocol: environment, stdin,
/// version gating, output and exit codes.
public protocol CNIPlugin {
    func add(_ env: CNIEnvironment, _ config: [UInt8]) throws(VFWireError) -> CNIResult
    func del(_ env: CNIEnvironment, _ config: [UInt8]) throws(VFWireError)
    func check(_ env: CNIEnvironment, _ config: [UInt8]) throws(VFWireError)
    func status(_ env: CNIEnvironment, _ config: [UInt8]) throws(VFWireError)
    func gc(_ env: CNIEnvironment, _ config: [UInt8]) throws(VFWireError)
    /// The config's cniVersion, read cheaply, so errors can carry it.
    func configVersion(_ config: [UInt8]) throws(VFWireError) -> CNIVersion
}

public enum CNISkel {
    /// Runs one invocation and returns the process exit code.
    public static func run(_ plugin: CNIPlugin, environment: [String: String], stdin: [UInt8],
                           write: ([UInt8]) -> Void) -> Int32 {
        var version = CNIVersion.latest
        do throws(VFWireError) {
            // VERSION first and cheaply: runtimes call it to negotiate, often with no netconf at all.
            if environment["CNI_COMMAND"] == CNICommand.version.rawValue {
                write(versionReply(stdin))
                return 0
            }
            let env = try CNIEnvironment(environment)
            version = try plugin.configVersion(stdin)
            try version.allows(env.command)
            switch env.command {
            case .add:
                let result = try plugin.add(env, stdin)
                do { write(try result.encoded(for: version)) } catch {
                    throw VFWireError.io("cannot encode result: \(error)")
                }
            case .del: try plugin.del(env, stdin)
            case .check: try plugin.check(env, stdin)
            case .status: try plugin.status(env, stdin)
            case .gc: try plugin.gc(env, stdin)
            case .version: break
            }
            return 0
        } catch {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let e = CNIError(error, cniVersion: version.rawValue)
            write((try? encoder.encode(e)).map(Array.init) ?? Array("{\"code\":\(e.code)}".utf8))
            return 1
        }
    }

    /// The VERSION reply echoes the caller's cniVersion when it is one we speak.
    static func versionReply(_ stdin: [UInt8]) -> [UInt8] {
        struct In: Decodable { var cniVersion: String? }
        let asked = (try? JSONDecoder().decode(In.self, from: Data(stdin)))?.cniVersion
        let reply = CNIVersion(rawValue: asked ?? "") ?? .latest
        let list = CNIVersion.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ",")
        return Array("{\"cniVersion\":\"\(reply.rawValue)\",\"supportedVersions\":[\(list)]}".utf8)
    }

    /// All of stdin, as runtimes pass a netconf or an OCI state there.
    public static func readStdin() -> [UInt8] {
        var input: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(0, &buf, buf.count)
            if n > 0 { input.append(contentsOf: buf[0..<n]); continue }
            if n < 0 && errno == EINTR { continue }
            return input
        }
    }

    /// Reads the process's stdin, environment and runs the plugin; never returns.
    public static func main(_ plugin: CNIPlugin) -> Never {
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

import FoundationEssentials
import CNIProtocol
import FileSystem
import JSON
import VFWireTypes

/// A network configuration list as libcni loads it: a `.conflist`, or a single-plugin `.conf`
/// / `.json` treated as a list of one.
public struct NetworkList: Sendable {
    public var name: String
    public var cniVersion: CNIVersion
    public var plugins: [[String: JSONValue]]
    public var path: String

    public init(name: String, cniVersion: CNIVersion, plugins: [[String: JSONValue]], path: String) {
        self.name = name; self.cniVersion = cniVersion; self.plugins = plugins; self.path = path
    }

    /// The list as a `.conflist` holds it; on one line where it is embedded in another document.
    public func encoded(pretty: Bool = true) -> [UInt8] {
        let file: JSONValue = .object(["cniVersion": .string(cniVersion.rawValue), "name": .string(name),
                                       "plugins": .array(plugins.map(JSONValue.object))])
        return pretty ? file.indented + [0x0a] : file.serialized
    }

    /// The list named `name` in `dir`, searched in file name order as libcni does.
    public static func load(_ name: CNIIdentifier, from dir: String) throws -> NetworkList {
        let files = FS.list(dir).filter { $0.hasSuffix(".conflist") || $0.hasSuffix(".conf") || $0.hasSuffix(".json") }.sorted()
        for f in files {
            if let list = try? parse(dir + "/" + f), list.name == name.value { return list }
        }
        throw CNIClientError.badConfig("no CNI network named \(name) in \(dir) (\(files.count) config files there)")
    }

    public static func parse(_ path: String) throws -> NetworkList {
        guard let bytes = FS.read(path) else { throw CNIClientError.badConfig("cannot read \(path)") }
        let o: [String: JSONValue]
        do {
            guard let obj = try JSONDecoder().decode(JSONValue.self, from: Data(bytes)).objectValue else {
                throw CNIClientError.badConfig("\(path) is not a JSON object")
            }
            o = obj
        } catch let e as CNIClientError { throw e } catch { throw CNIClientError.badConfig("\(path) is not valid JSON: \(error)") }
        guard let name = o["name"]?.stringValue else { throw CNIClientError.badConfig("\(path) has no name") }
        guard let v = o["cniVersion"]?.stringValue else { throw CNIClientError.badConfig("\(path) has no cniVersion") }
        let version = try CNIVersion.parse(v)
        let plugins: [[String: JSONValue]]
        if let list = o["plugins"]?.arrayValue {
            plugins = list.compactMap(\.objectValue)
            guard plugins.count == list.count, !plugins.isEmpty else { throw CNIClientError.badConfig("\(path): plugins must be a non-empty list of objects") }
        } else {
            plugins = [o]
        }
        for p in plugins {
            guard let t = p["type"]?.stringValue, !t.isEmpty, !t.contains("/") else {
                throw CNIClientError.badConfig("\(path): every plugin needs a type that is a plain name")
            }
        }
        return NetworkList(name: name, cniVersion: version, plugins: plugins, path: path)
    }
}

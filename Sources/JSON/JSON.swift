/// JSON to and from Codable types without Foundation. The plugin is exec'd on every attachment,
/// and Foundation's JSONEncoder and JSONDecoder alone would double its size (a static hello world
/// is 6.4 MiB stripped, 13.3 MiB with one JSONDecoder call); they also go through a JSON tree
/// much like this one, so nothing is lost by building on JSONValue.
public enum JSON {
    /// Parses bytes into a Codable type; every failure, syntax or shape, is one readable error.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws(JSONDecodeError) -> T {
        let value: JSONValue
        do { value = try JSONParser().parse(bytes) } catch { throw JSONDecodeError(message: error.message) }
        return try decode(type, from: value)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws(JSONDecodeError) -> T {
        do { return try ValueDecoder(value, codingPath: []).decode(T.self) } catch let e as DecodingError {
            throw JSONDecodeError(e)
        } catch {
            throw JSONDecodeError(message: "\(error)")
        }
    }

    /// The compact form with sorted keys and unescaped slashes: stable across runs, so results and
    /// state files can be compared byte for byte, and paths stay readable.
    public static func encode<T: Encodable>(_ value: T) throws(JSONEncodeError) -> [UInt8] {
        try tree(value).serialized
    }

    public static func tree<T: Encodable>(_ value: T) throws(JSONEncodeError) -> JSONValue {
        do { return try ValueEncoder.encode(value, codingPath: []) } catch { throw JSONEncodeError(message: "\(error)") }
    }
}

/// A value that does not have the shape the type needs, named by where it is: "ips.0.address:
/// expected a string, found a number".
public struct JSONDecodeError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public var description: String { message }

    public init(message: String) { self.message = message }

    init(_ e: DecodingError) {
        func at(_ path: [CodingKey]) -> String {
            path.isEmpty ? "" : path.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".") + ": "
        }
        switch e {
        case .keyNotFound(let k, let c): message = at(c.codingPath + [k]) + "missing"
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): message = at(c.codingPath) + c.debugDescription
        @unknown default: message = "\(e)"
        }
    }
}

public struct JSONEncodeError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

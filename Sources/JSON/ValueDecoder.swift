/// JSONValue to Decodable, with Foundation's JSONDecoder's rules: integers must be exact, a
/// missing key and null are both "absent" to `decodeIfPresent`, unknown keys are ignored.
struct ValueDecoder: Decoder, SingleValueDecodingContainer {
    let value: JSONValue
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(_ value: JSONValue, codingPath: [CodingKey]) { self.value = value; self.codingPath = codingPath }

    func mismatch<T>(_ type: T.Type, _ wanted: String) -> DecodingError {
        let found = switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
        return .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "expected \(wanted), found \(found)"))
    }

    func container<Key: CodingKey>(keyedBy: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let o) = value else { throw mismatch([String: JSONValue].self, "an object") }
        return KeyedDecodingContainer(Keyed(object: o, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .array(let a) = value else { throw mismatch([JSONValue].self, "an array") }
        return Unkeyed(array: a, codingPath: codingPath)
    }

    func singleValueContainer() -> SingleValueDecodingContainer { self }

    func decodeNil() -> Bool { value == .null }
    func decode(_: Bool.Type) throws -> Bool {
        guard case .bool(let b) = value else { throw mismatch(Bool.self, "a boolean") }
        return b
    }
    func decode(_: String.Type) throws -> String {
        guard case .string(let s) = value else { throw mismatch(String.self, "a string") }
        return s
    }
    func decode(_: Double.Type) throws -> Double {
        guard case .number(let n) = value else { throw mismatch(Double.self, "a number") }
        return n
    }
    func decode(_: Float.Type) throws -> Float { Float(try decode(Double.self)) }
    func decode(_: Int.Type) throws -> Int { try integer() }
    func decode(_: Int8.Type) throws -> Int8 { try integer() }
    func decode(_: Int16.Type) throws -> Int16 { try integer() }
    func decode(_: Int32.Type) throws -> Int32 { try integer() }
    func decode(_: Int64.Type) throws -> Int64 { try integer() }
    func decode(_: UInt.Type) throws -> UInt { try integer() }
    func decode(_: UInt8.Type) throws -> UInt8 { try integer() }
    func decode(_: UInt16.Type) throws -> UInt16 { try integer() }
    func decode(_: UInt32.Type) throws -> UInt32 { try integer() }
    func decode(_: UInt64.Type) throws -> UInt64 { try integer() }
    func decode<T: Decodable>(_: T.Type) throws -> T {
        // JSONValue's own init(from:) guesses the case by trying each; here the case is known.
        if T.self == JSONValue.self { return value as! T }
        return try T(from: self)
    }

    private func integer<I: FixedWidthInteger>() throws -> I {
        guard case .number(let n) = value, let i = I(exactly: n) else { throw mismatch(I.self, "an integer that fits \(I.self)") }
        return i
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let object: [String: JSONValue]
        let codingPath: [CodingKey]
        var allKeys: [Key] { object.keys.compactMap(Key.init(stringValue:)) }

        func contains(_ k: Key) -> Bool { object[k.stringValue] != nil }

        func child(_ k: Key) throws -> ValueDecoder {
            guard let v = object[k.stringValue] else {
                throw DecodingError.keyNotFound(k, .init(codingPath: codingPath, debugDescription: "missing"))
            }
            return ValueDecoder(v, codingPath: codingPath + [k])
        }

        func decodeNil(forKey k: Key) throws -> Bool { try child(k).decodeNil() }
        func decode<T: Decodable>(_: T.Type, forKey k: Key) throws -> T { try child(k).decode(T.self) }
        func nestedContainer<NK: CodingKey>(keyedBy: NK.Type, forKey k: Key) throws -> KeyedDecodingContainer<NK> {
            try child(k).container(keyedBy: NK.self)
        }
        func nestedUnkeyedContainer(forKey k: Key) throws -> UnkeyedDecodingContainer { try child(k).unkeyedContainer() }
        func superDecoder() throws -> Decoder { try child(Key(stringValue: "super")!) }
        func superDecoder(forKey k: Key) throws -> Decoder { try child(k) }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let array: [JSONValue]
        let codingPath: [CodingKey]
        var currentIndex = 0
        var count: Int? { array.count }
        var isAtEnd: Bool { currentIndex >= array.count }

        init(array: [JSONValue], codingPath: [CodingKey]) { self.array = array; self.codingPath = codingPath }

        mutating func next() throws -> ValueDecoder {
            guard !isAtEnd else {
                throw DecodingError.valueNotFound(JSONValue.self, .init(codingPath: codingPath + [Index(currentIndex)],
                                                                        debugDescription: "past the end of an array of \(array.count)"))
            }
            currentIndex += 1
            return ValueDecoder(array[currentIndex - 1], codingPath: codingPath + [Index(currentIndex - 1)])
        }

        mutating func decodeNil() throws -> Bool {
            guard !isAtEnd, array[currentIndex] == .null else { return false }
            currentIndex += 1
            return true
        }
        mutating func decode<T: Decodable>(_: T.Type) throws -> T { try next().decode(T.self) }
        mutating func nestedContainer<NK: CodingKey>(keyedBy: NK.Type) throws -> KeyedDecodingContainer<NK> {
            try next().container(keyedBy: NK.self)
        }
        mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer { try next().unkeyedContainer() }
        mutating func superDecoder() throws -> Decoder { try next() }
    }
}

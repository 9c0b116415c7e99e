/// What one Encodable wrote, filled in through containers. Codable hands containers out by value,
/// so they share this node rather than each holding a copy of the tree.
final class Node {
    var scalar: JSONValue?
    var object: [String: Node]?
    var array: [Node]?

    init(_ scalar: JSONValue? = nil) { self.scalar = scalar }

    /// A type that opened no container and wrote nothing encodes as {}, as an empty struct does.
    var value: JSONValue {
        if let o = object { return .object(o.mapValues(\.value)) }
        if let a = array { return .array(a.map(\.value)) }
        return scalar ?? .object([:])
    }
}

/// Encodable to JSONValue. The stdlib's containers forward every primitive to the generic
/// `encode`, so only the single-value container spells the primitives out.
struct ValueEncoder: Encoder, SingleValueEncodingContainer {
    let node: Node
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    static func encode<T: Encodable>(_ v: T, codingPath: [CodingKey]) throws -> JSONValue {
        if let j = v as? JSONValue { return j }
        let n = Node()
        try v.encode(to: ValueEncoder(node: n, codingPath: codingPath))
        return n.value
    }

    func container<Key: CodingKey>(keyedBy: Key.Type) -> KeyedEncodingContainer<Key> {
        if node.object == nil { node.object = [:] }
        return KeyedEncodingContainer(Keyed(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        if node.array == nil { node.array = [] }
        return Unkeyed(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> SingleValueEncodingContainer { self }

    func encodeNil() { node.scalar = .null }
    func encode(_ v: Bool) { node.scalar = .bool(v) }
    func encode(_ v: String) { node.scalar = .string(v) }
    func encode(_ v: Double) throws {
        guard v.isFinite else {
            throw EncodingError.invalidValue(v, .init(codingPath: codingPath, debugDescription: "\(v) is not a JSON number"))
        }
        node.scalar = .number(v)
    }
    func encode(_ v: Float) throws { try encode(Double(v)) }
    func encode(_ v: Int) { integer(v) }
    func encode(_ v: Int8) { integer(v) }
    func encode(_ v: Int16) { integer(v) }
    func encode(_ v: Int32) { integer(v) }
    func encode(_ v: Int64) { integer(v) }
    func encode(_ v: UInt) { integer(v) }
    func encode(_ v: UInt8) { integer(v) }
    func encode(_ v: UInt16) { integer(v) }
    func encode(_ v: UInt32) { integer(v) }
    func encode(_ v: UInt64) { integer(v) }
    func encode<T: Encodable>(_ v: T) throws { node.scalar = try Self.encode(v, codingPath: codingPath) }

    private func integer<I: BinaryInteger>(_ v: I) { node.scalar = .number(Double(v)) }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: Node
        let codingPath: [CodingKey]

        func child(_ k: Key, _ n: Node = Node()) -> ValueEncoder {
            node.object![k.stringValue] = n
            return ValueEncoder(node: n, codingPath: codingPath + [k])
        }

        func encodeNil(forKey k: Key) { _ = child(k, Node(.null)) }
        func encode<T: Encodable>(_ v: T, forKey k: Key) throws { try child(k).encode(v) }
        func nestedContainer<NK: CodingKey>(keyedBy: NK.Type, forKey k: Key) -> KeyedEncodingContainer<NK> {
            child(k).container(keyedBy: NK.self)
        }
        func nestedUnkeyedContainer(forKey k: Key) -> UnkeyedEncodingContainer { child(k).unkeyedContainer() }
        func superEncoder() -> Encoder { child(Key(stringValue: "super")!) }
        func superEncoder(forKey k: Key) -> Encoder { child(k) }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: Node
        let codingPath: [CodingKey]
        var count: Int { node.array!.count }

        func next(_ n: Node = Node()) -> ValueEncoder {
            let path = codingPath + [Index(count)]
            node.array!.append(n)
            return ValueEncoder(node: n, codingPath: path)
        }

        func encodeNil() { _ = next(Node(.null)) }
        func encode<T: Encodable>(_ v: T) throws { try next().encode(v) }
        func nestedContainer<NK: CodingKey>(keyedBy: NK.Type) -> KeyedEncodingContainer<NK> { next().container(keyedBy: NK.self) }
        func nestedUnkeyedContainer() -> UnkeyedEncodingContainer { next().unkeyedContainer() }
        func superEncoder() -> Encoder { next() }
    }
}

/// An array position in a coding path.
struct Index: CodingKey {
    let intValue: Int?
    var stringValue: String { String(intValue!) }
    init(_ i: Int) { intValue = i }
    init?(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { guard let i = Int(stringValue) else { return nil }; intValue = i }
}

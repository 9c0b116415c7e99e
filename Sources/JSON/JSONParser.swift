/// Input that is not one JSON value within the parser's bounds.
public struct JSONParseError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Not JSON, or nested or sized beyond what a netconf needs.
        case syntax
        /// Valid JSON that other parsers read differently: Go and Python keep the last of two
        /// equal keys, Foundation the first, so no reading of it is safe.
        case duplicateKey(String)
    }
    public var kind: Kind
    public var message: String
    public var description: String { message }
}

/// A strict RFC 8259 parser into `JSONValue`, bounded in depth and size so that hostile input
/// costs linear time and bounded memory: Foundation's decoder is quadratic in nesting (an 8 KB
/// netconf of nested arrays took 8 s). It also refuses duplicate object keys, which Foundation
/// silently resolves one way and Go's and Python's parsers the other.
public struct JSONParser {
    public var maxDepth: Int
    public var maxBytes: Int

    /// A netconf is a few KB; 1 MiB leaves room for a long prevResult or runtimeConfig.
    /// 64 levels is far beyond any config (ipam routes sit at depth 4).
    public init(maxDepth: Int = 64, maxBytes: Int = 1 << 20) {
        self.maxDepth = maxDepth; self.maxBytes = maxBytes
    }

    public func parse(_ input: [UInt8]) throws(JSONParseError) -> JSONValue {
        guard input.count <= maxBytes else {
            throw JSONParseError(kind: .syntax, message: "input is \(input.count) bytes, over the limit of \(maxBytes)")
        }
        var r = Reader(bytes: input, maxDepth: maxDepth)
        let v = try r.value(depth: 0)
        r.skipSpace()
        guard r.at == input.count else { throw r.error("unexpected data after the JSON value") }
        return v
    }

    struct Reader {
        let bytes: [UInt8]
        let maxDepth: Int
        var at = 0

        init(bytes: [UInt8], maxDepth: Int) { self.bytes = bytes; self.maxDepth = maxDepth }

        func error(_ what: String) -> JSONParseError {
            JSONParseError(kind: .syntax, message: "\(what) at byte \(at)")
        }

        var peek: UInt8? { at < bytes.count ? bytes[at] : nil }

        mutating func skipSpace() {
            while at < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[at]) { at += 1 }
        }

        mutating func expect(_ literal: String) throws(JSONParseError) {
            let want = literal.utf8
            guard bytes.count - at >= want.count, bytes[at..<at + want.count].elementsEqual(want) else {
                throw error("invalid literal")
            }
            at += want.count
        }

        mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
            skipSpace()
            guard let c = peek else { throw error("unexpected end of input") }
            switch c {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default: throw error("unexpected character '\(Unicode.Scalar(c))'")
            }
        }

        mutating func enter(_ depth: Int) throws(JSONParseError) {
            guard depth <= maxDepth else { throw error("nesting deeper than \(maxDepth) levels") }
            at += 1
            skipSpace()
        }

        mutating func object(depth: Int) throws(JSONParseError) -> JSONValue {
            try enter(depth)
            var o: [String: JSONValue] = [:]
            if peek == UInt8(ascii: "}") { at += 1; return .object(o) }
            while true {
                skipSpace()
                guard peek == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let keyAt = at
                let k = try string()
                skipSpace()
                guard peek == UInt8(ascii: ":") else { throw error("expected ':'") }
                at += 1
                let v = try value(depth: depth)
                if o.updateValue(v, forKey: k) != nil {
                    throw JSONParseError(kind: .duplicateKey(k), message: "key '\(k)' appears twice (again at byte \(keyAt))")
                }
                skipSpace()
                switch peek {
                case UInt8(ascii: ","): at += 1
                case UInt8(ascii: "}"): at += 1; return .object(o)
                default: throw error("expected ',' or '}'")
                }
            }
        }

        mutating func array(depth: Int) throws(JSONParseError) -> JSONValue {
            try enter(depth)
            var a: [JSONValue] = []
            if peek == UInt8(ascii: "]") { at += 1; return .array(a) }
            while true {
                a.append(try value(depth: depth))
                skipSpace()
                switch peek {
                case UInt8(ascii: ","): at += 1
                case UInt8(ascii: "]"): at += 1; return .array(a)
                default: throw error("expected ',' or ']'")
                }
            }
        }

        mutating func hex4() throws(JSONParseError) -> UInt32 {
            guard at + 4 <= bytes.count else { throw error("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[at]
                let d: UInt8
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
                default: throw error("invalid \\u escape")
                }
                v = v << 4 | UInt32(d)
                at += 1
            }
            return v
        }

        mutating func string() throws(JSONParseError) -> String {
            at += 1
            let start = at
            // Fast path: no escapes, so the bytes are the string once checked as UTF-8.
            while at < bytes.count, bytes[at] != UInt8(ascii: "\""), bytes[at] != UInt8(ascii: "\\") {
                guard bytes[at] >= 0x20 else { throw error("control character in a string") }
                at += 1
            }
            var out = Array(bytes[start..<min(at, bytes.count)])
            while true {
                guard let c = peek else { throw error("unterminated string") }
                at += 1
                if c == UInt8(ascii: "\"") { break }
                if c < 0x20 { throw error("control character in a string") }
                if c != UInt8(ascii: "\\") { out.append(c); continue }
                guard let e = peek else { throw error("unterminated string") }
                at += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0c)
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xd800..<0xdc00).contains(scalar) {
                        guard at + 2 <= bytes.count, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") else {
                            throw error("unpaired surrogate")
                        }
                        at += 2
                        let low = try hex4()
                        guard (0xdc00..<0xe000).contains(low) else { throw error("unpaired surrogate") }
                        scalar = 0x10000 + ((scalar - 0xd800) << 10) + (low - 0xdc00)
                    } else if (0xdc00..<0xe000).contains(scalar) {
                        throw error("unpaired surrogate")
                    }
                    out.append(contentsOf: String(Unicode.Scalar(scalar)!).utf8)
                default: throw error("invalid escape '\\\(Unicode.Scalar(e))'")
                }
            }
            guard let s = String(validating: out, as: UTF8.self) else { throw error("string is not valid UTF-8") }
            return s
        }

        mutating func digits() -> Int {
            let s = at
            while at < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[at]) { at += 1 }
            return at - s
        }

        mutating func number() throws(JSONParseError) -> Double {
            let start = at
            if peek == UInt8(ascii: "-") { at += 1 }
            if peek == UInt8(ascii: "0") { at += 1 } else if digits() == 0 { throw error("invalid number") }
            if peek == UInt8(ascii: ".") {
                at += 1
                guard digits() > 0 else { throw error("invalid number") }
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                at += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { at += 1 }
                guard digits() > 0 else { throw error("invalid number") }
            }
            guard let d = Double(String(decoding: bytes[start..<at], as: UTF8.self)), d.isFinite else {
                throw error("number out of range")
            }
            return d
        }
    }
}

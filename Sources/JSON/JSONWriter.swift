extension JSONValue {
    /// Compact JSON, object keys sorted, only what RFC 8259 requires escaped.
    public var serialized: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(to: &out, level: nil)
        return out
    }

    /// The same, a value a line, indented two spaces a level: for files people read.
    public var indented: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        write(to: &out, level: 0)
        return out
    }

    /// `level` is the indentation of this value's line, or nil for compact output.
    func write(to out: inout [UInt8], level: Int?) {
        let inner = level.map { $0 + 1 }
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): out.append(contentsOf: Self.text(n).utf8)
        case .string(let s): Self.write(s, to: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                Self.newline(&out, inner)
                v.write(to: &out, level: inner)
            }
            if !a.isEmpty { Self.newline(&out, level) }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            for (i, k) in o.keys.sorted().enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                Self.newline(&out, inner)
                Self.write(k, to: &out)
                out.append(UInt8(ascii: ":"))
                if level != nil { out.append(UInt8(ascii: " ")) }
                o[k]!.write(to: &out, level: inner)
            }
            if !o.isEmpty { Self.newline(&out, level) }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func newline(_ out: inout [UInt8], _ level: Int?) {
        guard let level else { return }
        out.append(0x0a)
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * level))
    }

    /// Integers as integers (a VLAN is 100, not 100.0); the rest in Swift's shortest round-trip form.
    static func text(_ n: Double) -> String {
        n.rounded() == n && abs(n) < 1e15 ? String(Int64(n)) : "\(n)"
    }

    static func write(_ s: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case 0x0a: out.append(contentsOf: #"\n"#.utf8)
            case 0x0d: out.append(contentsOf: #"\r"#.utf8)
            case 0x09: out.append(contentsOf: #"\t"#.utf8)
            case 0..<0x20: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 0xf)]])
            default: out.append(c)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

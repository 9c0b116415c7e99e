/// A 48-bit Ethernet address.
public struct MACAddress: Hashable, Sendable, TextValue {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 6 else { return nil }
        self.bytes = bytes
    }

    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard p.count == 2, p.allSatisfy(\.isHexDigit), let b = UInt8(p, radix: 16) else { return nil }
            out.append(b)
        }
        bytes = out
    }

    public static let zero = MACAddress(bytes: [0, 0, 0, 0, 0, 0])!

    public var isZero: Bool { bytes.allSatisfy { $0 == 0 } }
    public var isMulticast: Bool { bytes[0] & 1 == 1 }
    /// What a netdev or VF may carry as its own address.
    public var isUsableUnicast: Bool { !isZero && !isMulticast }

    public var description: String { bytes.map { hex($0, 2) }.joined(separator: ":") }
}

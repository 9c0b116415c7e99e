/// A value that is a string at the edge (JSON, sysfs) and parsed once into a type: encoding
/// writes the string, decoding parses it and fails with the text when it does not parse.
public protocol TextValue: Codable, CustomStringConvertible {
    init?(_ text: String)
}

extension TextValue {
    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let v = Self(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "not a valid \(Self.self): \(text)"))
        }
        self = v
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

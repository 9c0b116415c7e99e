/// The error object a plugin prints on stdout before exiting 1. The protocol's own failures
/// are thrown as one; a plugin maps its own errors to one at its edge (`CNIPlugin.cniError`).
public struct CNIError: Error, Codable, Equatable, Sendable, CustomStringConvertible {
    /// Optional on input: the reference plugins leave it out of their errors.
    public var cniVersion: String?
    public var code: Int
    public var msg: String
    public var details: String?

    public init(code: Int, msg: String, details: String? = nil, cniVersion: String? = nil) {
        self.code = code; self.msg = msg
        self.details = details?.isEmpty == true ? nil : details
        self.cniVersion = cniVersion
    }

    public var description: String { details.map { "\(msg): \($0)" } ?? msg }

    // The spec's well-known codes.
    public static func incompatibleVersion(_ m: String) -> CNIError { CNIError(code: 1, msg: m) }
    public static func invalidEnvironment(_ m: String) -> CNIError { CNIError(code: 4, msg: m) }
    public static func io(_ m: String) -> CNIError { CNIError(code: 5, msg: m) }
    public static func decode(_ m: String) -> CNIError { CNIError(code: 6, msg: m) }
    public static func invalidConfig(_ m: String) -> CNIError { CNIError(code: 7, msg: m) }
    public static func tryAgain(_ m: String) -> CNIError { CNIError(code: 11, msg: m) }
    /// What a failure nobody mapped becomes, as in libcni's skel.
    public static func `internal`(_ m: String) -> CNIError { CNIError(code: 999, msg: m) }
}

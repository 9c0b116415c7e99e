/// Every failure vfwire can report. Each case maps to exactly one CNI error code, in
/// `CNIError.init(_:)`, so the code a runtime sees is decided in one place.
public enum VFWireError: Error, Equatable, Sendable {
    /// The plugin does not speak the requested CNI version.
    case incompatibleVersion(String)
    /// A required CNI_* variable is missing or malformed.
    case invalidEnvironment(String)
    /// stdin is not the JSON we expected.
    case decode(String)
    /// The netconf parsed, but a value is out of range or contradicts another.
    case invalidConfig(String)
    /// Transient: another operation holds what we need.
    case tryAgain(String)
    /// STATUS: the plugin cannot serve ADD now (PF missing, no free VF).
    case unavailable(String)
    /// A file or directory operation failed.
    case io(String)
    /// Every VF of the configured PFs is in use.
    case noFreeVF(String)
    /// The requested VF is attached to another container or not usable.
    case deviceBusy(String)
    /// A netlink request failed: what we tried, and libnl's/kernel's reason.
    case netlink(String)
    /// The PF driver refused a VF setting.
    case pfDriver(String)
    /// CHECK found the attachment differs from what ADD made.
    case checkFailed(String)
    /// A delegated plugin (IPAM) failed; its own code and message are passed through.
    case delegate(code: Int, msg: String, details: String)
}

extension VFWireError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .incompatibleVersion(let m), .invalidEnvironment(let m), .decode(let m),
             .invalidConfig(let m), .tryAgain(let m), .unavailable(let m), .io(let m),
             .noFreeVF(let m), .deviceBusy(let m), .netlink(let m), .pfDriver(let m),
             .checkFailed(let m):
            return m
        case .delegate(_, let msg, let details):
            return details.isEmpty ? msg : "\(msg): \(details)"
        }
    }
}

import FoundationEssentials
import VFWireTypes

/// The error object a plugin prints on stdout before exiting 1.
public struct CNIError: Codable, Equatable, Sendable {
    /// Optional on input: the reference plugins leave it out of their errors.
    public var cniVersion: String?
    public var code: Int
    public var msg: String
    public var details: String?

    /// The one place where vfwire's failures become CNI codes. Well-known codes are the spec's;
    /// 100 and up are ours and stable, so scripts and runtimes may match on them.
    public init(_ error: VFWireError, cniVersion: String = CNIVersion.latest.rawValue) {
        self.cniVersion = cniVersion
        switch error {
        case .incompatibleVersion(let m): (code, msg) = (1, m)
        case .invalidEnvironment(let m): (code, msg) = (4, m)
        case .io(let m): (code, msg) = (5, m)
        case .decode(let m): (code, msg) = (6, m)
        case .invalidConfig(let m): (code, msg) = (7, m)
        case .tryAgain(let m): (code, msg) = (11, m)
        case .unavailable(let m): (code, msg) = (50, m)
        case .noFreeVF(let m): (code, msg) = (101, m)
        case .deviceBusy(let m): (code, msg) = (102, m)
        case .netlink(let m): (code, msg) = (103, m)
        case .pfDriver(let m): (code, msg) = (104, m)
        case .checkFailed(let m): (code, msg) = (105, m)
        case .delegate(let c, let m, let d): (code, msg, details) = (c, m, d.isEmpty ? nil : d)
        }
    }
}

import VFWireTypes

/// The CNI spec versions vfwire speaks, oldest first.
public enum CNIVersion: String, CaseIterable, Comparable, Sendable, Codable {
    case v0_3_0 = "0.3.0"
    case v0_3_1 = "0.3.1"
    case v0_4_0 = "0.4.0"
    case v1_0_0 = "1.0.0"
    case v1_1_0 = "1.1.0"

    public static let latest = CNIVersion.v1_1_0

    public static func < (a: CNIVersion, b: CNIVersion) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    public static func parse(_ text: String) throws(CNIError) -> CNIVersion {
        guard let v = CNIVersion(rawValue: text) else {
            throw .incompatibleVersion("incompatible CNI version \(text): vfwire supports "
                + allCases.map(\.rawValue).joined(separator: ", "))
        }
        return v
    }

    /// The oldest config version in which a verb exists.
    public func allows(_ command: CNICommand) throws(CNIError) {
        let minimum: CNIVersion
        switch command {
        case .add, .del, .version: return
        case .check: minimum = .v0_4_0
        case .status, .gc: minimum = .v1_1_0
        }
        if self < minimum {
            throw .incompatibleVersion("\(command.rawValue) needs cniVersion \(minimum.rawValue) or later; the config says \(rawValue)")
        }
    }
}

public enum CNICommand: String, Sendable {
    case add = "ADD", del = "DEL", check = "CHECK", status = "STATUS", gc = "GC", version = "VERSION"
}

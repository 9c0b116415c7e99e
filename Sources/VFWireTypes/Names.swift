/// A Linux network interface name: 1–15 bytes, not `.` or `..`, no `/`, `:` or white space,
/// the kernel's dev_valid_name, and no `%`: the kernel takes a name with one as a pattern
/// (`net%d` becomes `net0`), so the interface would not be where its name says. It is safe
/// as a sysfs path component.
public struct InterfaceName: Hashable, Sendable, TextValue {
    public let value: String

    public init?(_ value: String) {
        let bytes = Array(value.utf8)
        guard (1...15).contains(bytes.count), value != ".", value != "..",
              !bytes.contains(where: { $0 == 0x2f || $0 == 0x3a || $0 == 0x25 || $0 <= 0x20 || $0 == 0x7f })
        else { return nil }
        self.value = value
    }

    public var description: String { value }
}

/// The CNI spec's identifier rule, shared by container IDs and network names:
/// `^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`. Being safe in a file name is a consequence.
public struct CNIIdentifier: Hashable, Sendable, TextValue {
    public let value: String

    public init?(_ value: String) {
        guard let first = value.utf8.first, value.utf8.count <= 1024, isAlnum(first),
              value.utf8.allSatisfy({ isAlnum($0) || $0 == 0x5f || $0 == 0x2e || $0 == 0x2d })
        else { return nil }
        self.value = value
    }

    public var description: String { value }
}

private func isAlnum(_ c: UInt8) -> Bool {
    (0x30...0x39).contains(c) || (0x41...0x5a).contains(c) || (0x61...0x7a).contains(c)
}

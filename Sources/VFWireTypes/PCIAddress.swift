/// A PCI function address in sysfs form, `DDDD:BB:DD.F`. Parsing it is what makes it safe to
/// use as a path component: nothing but hex digits, colons and one dot can survive.
public struct PCIAddress: Hashable, Comparable, Sendable, TextValue {
    public let domain: UInt32
    public let bus: UInt8
    public let device: UInt8
    public let function: UInt8

    public init(domain: UInt32, bus: UInt8, device: UInt8, function: UInt8) {
        precondition(device < 32 && function < 8)
        self.domain = domain; self.bus = bus; self.device = device; self.function = function
    }

    /// Accepts `DDDD:BB:DD.F` and the domain-less `BB:DD.F` that lspci prints.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3 else { return nil }
        let domainText = parts.count == 3 ? parts[0] : "0000"
        let busText = parts[parts.count - 2]
        let devFn = parts[parts.count - 1].split(separator: ".", omittingEmptySubsequences: false)
        guard devFn.count == 2,
              (4...8).contains(domainText.count) || parts.count == 2, busText.count == 2,
              devFn[0].count == 2, devFn[1].count == 1,
              let d = UInt32(domainText, radix: 16), let b = UInt8(busText, radix: 16),
              let dev = UInt8(devFn[0], radix: 16), let fn = UInt8(devFn[1], radix: 16),
              dev < 32, fn < 8,
              [domainText, busText, devFn[0], devFn[1]].allSatisfy({ $0.allSatisfy(\.isHexDigit) })
        else { return nil }
        self.init(domain: d, bus: b, device: dev, function: fn)
    }

    /// Devfn number, used to lay out VF addresses after a PF.
    public var devfn: Int { Int(device) << 3 | Int(function) }

    public var description: String {
        hex(domain, 4) + ":" + hex(bus, 2) + ":" + hex(device, 2) + "." + String(function)
    }

    public static func < (a: PCIAddress, b: PCIAddress) -> Bool {
        (a.domain, a.bus, a.devfn) < (b.domain, b.bus, b.devfn)
    }


}

func hex<T: BinaryInteger>(_ v: T, _ width: Int) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: max(0, width - s.count)) + s
}

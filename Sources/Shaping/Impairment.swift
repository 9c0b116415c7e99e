/// Link impairments with containerlab's `tools netem set` names and units: delay and jitter as
/// durations (`1ms`, `100us`), loss and corruption in percent (`10`, `10%`), rate in kbit/s (`100000`,
/// or with a unit: `100mbit`). Zero or absent means none.
public struct Impairment: Hashable, Sendable {
    public var delayUs: UInt32 = 0
    public var jitterUs: UInt32 = 0
    public var lossPct: Double = 0
    public var rateKbit: UInt64 = 0
    public var corruptionPct: Double = 0
    public init() {}

    public var isNone: Bool { needsNetem == false && rateKbit == 0 }
    /// Anything but rate needs netem; rate alone is a token bucket.
    public var needsNetem: Bool { delayUs > 0 || jitterUs > 0 || lossPct > 0 || corruptionPct > 0 }

    /// `--delay 1ms --jitter 100us --loss 10% --rate 100mbit --corruption 0.1%`.
    public init(flags: [String]) throws(ShapingError) {
        var i = 0
        while i < flags.count {
            guard i + 1 < flags.count else { throw .usage("\(flags[i]) needs a value") }
            guard flags[i].hasPrefix("--") else { throw .usage("unknown impairment \(flags[i]) (\(Self.names.map { "--" + $0 }.joined(separator: ", ")))") }
            try set(String(flags[i].dropFirst(2)), flags[i + 1], label: flags[i])
            i += 2
        }
        if jitterUs > 0 && delayUs == 0 { throw .usage("--jitter varies a --delay; give one") }
    }

    /// containerlab's names, in the order `flags` prints them.
    public static let names = ["delay", "jitter", "loss", "rate", "corruption"]

    /// One impairment by its containerlab name; `label` is what an error calls it (a flag, a
    /// topology key).
    public mutating func set(_ name: String, _ value: String, label: String) throws(ShapingError) {
        switch name {
        case "delay": delayUs = try Self.duration(value, label)
        case "jitter": jitterUs = try Self.duration(value, label)
        case "loss": lossPct = try Self.percent(value, label)
        case "corruption": corruptionPct = try Self.percent(value, label)
        case "rate": rateKbit = try Self.rate(value, label)
        default: throw .usage("unknown impairment \(label) (\(Self.names.map { "--" + $0 }.joined(separator: ", ")))")
        }
    }

    /// A duration as Go writes them (containerlab parses with time.ParseDuration), to the microsecond.
    static func duration(_ text: String, _ flag: String) throws(ShapingError) -> UInt32 {
        // Go's one duration without a unit.
        if text == "0" { return 0 }
        let units: [(String, Double)] = [("ns", 0.001), ("us", 1), ("µs", 1), ("ms", 1000), ("s", 1_000_000)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let n = Double(text.dropLast(suffix.count)), n >= 0, n * scale < Double(UInt32.max) else { break }
            return UInt32((n * scale).rounded())
        }
        throw .usage("\(flag) \(text): not a duration such as 1ms, 100us or 1.5s")
    }

    static func percent(_ text: String, _ flag: String) throws(ShapingError) -> Double {
        guard let n = Double(text.hasSuffix("%") ? String(text.dropLast()) : text), n >= 0, n <= 100 else {
            throw .usage("\(flag) \(text): not a percentage 0-100")
        }
        return n
    }

    /// containerlab's --rate is a bare number of kbit/s; tc's unit suffixes are accepted too.
    static func rate(_ text: String, _ flag: String) throws(ShapingError) -> UInt64 {
        let units: [(String, Double)] = [("gbit", 1_000_000), ("mbit", 1000), ("kbit", 1), ("bit", 0.001)]
        var scale = 1.0, number = Substring(text)
        for (suffix, s) in units where text.lowercased().hasSuffix(suffix) { scale = s; number = text.dropLast(suffix.count); break }
        // Bounded here, not only where tbf takes it: a number past UInt64 would trap in the conversion.
        guard let n = Double(number), n >= 0, n * scale <= Double(UInt32.max) else {
            throw .usage("\(flag) \(text): not a rate in kbit/s such as 100000 or 100mbit")
        }
        return UInt64((n * scale).rounded())
    }

    /// The same flags `set` takes, so what `show` prints can be set again.
    public var flags: String {
        let set = settings
        return set.isEmpty ? "none" : set.map { "--\($0.name) \($0.value)" }.joined(separator: " ")
    }

    /// Each impairment in effect by its name, its value as `set` takes it.
    public var settings: [(name: String, value: String)] {
        var out: [(String, String)] = []
        if delayUs > 0 { out.append(("delay", Self.format(duration: delayUs))) }
        if jitterUs > 0 { out.append(("jitter", Self.format(duration: jitterUs))) }
        if lossPct > 0 { out.append(("loss", "\(Self.format(percent: lossPct))%")) }
        if rateKbit > 0 { out.append(("rate", "\(rateKbit)")) }
        if corruptionPct > 0 { out.append(("corruption", "\(Self.format(percent: corruptionPct))%")) }
        return out
    }

    static func format(duration us: UInt32) -> String {
        if us % 1_000_000 == 0 { return "\(us / 1_000_000)s" }
        if us % 1000 == 0 { return "\(us / 1000)ms" }
        return "\(us)us"
    }

    /// Percent to 0.001, the resolution a 32-bit probability keeps well beyond.
    static func format(percent p: Double) -> String {
        let milli = Int64((p * 1000).rounded())
        let whole = milli / 1000, frac = milli % 1000
        if frac == 0 { return String(whole) }
        var f = String(frac)
        while f.count < 3 { f = "0" + f }
        while f.hasSuffix("0") { f.removeLast() }
        return "\(whole).\(f)"
    }
}

public enum ShapingError: Error, CustomStringConvertible, Sendable {
    case usage(String)
    case failed(String)
    public var description: String { switch self { case .usage(let m), .failed(let m): m } }
}

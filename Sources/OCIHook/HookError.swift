/// What the hook refuses: a request, config or state it cannot act on.
public enum HookError: Error, CustomStringConvertible, Sendable {
    case invalidConfig(String)
    case invalidEnvironment(String)
    case deviceBusy(String)
    case decode(String)
    case io(String)

    public var description: String {
        switch self {
        case .invalidConfig(let m), .invalidEnvironment(let m), .deviceBusy(let m), .decode(let m), .io(let m): m
        }
    }
}

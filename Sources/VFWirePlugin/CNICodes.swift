import CNIProtocol
import FileSystem
import IPAM
import Namespaces
import Netconf
import Netlink
import PFDriver
import Subprocess
import Sysfs
import VFState

extension VFWire {
    /// The one place where vfwire's failures become CNI codes, so the code a runtime sees is
    /// decided here and nowhere below. Well-known codes are the spec's; 100 and up are ours and
    /// stable, so scripts and runtimes may match on them. A delegate's error passes through.
    public func cniError(for error: any Error) -> CNIError {
        let (code, msg): (Int, String)
        switch error {
        case let e as PluginError:
            switch e {
            case .invalidConfig(let m): (code, msg) = (7, m)
            case .unavailable(let m): (code, msg) = (50, m)
            case .noFreeVF(let m): (code, msg) = (101, m)
            case .deviceBusy(let m): (code, msg) = (102, m)
            case .checkFailed(let m): (code, msg) = (105, m)
            case .decode(let m): (code, msg) = (6, m)
            case .io(let m): (code, msg) = (5, m)
            }
        case let e as NetconfError:
            switch e {
            case .decode(let m): (code, msg) = (6, m)
            case .invalidConfig(let m): (code, msg) = (7, m)
            }
        case let e as DelegateError:
            switch e {
            case .notFound(let m): (code, msg) = (4, m)
            case .failed(let e): return e
            }
        case let e as NamespaceError:
            switch e {
            case .cannotOpen(let m): (code, msg) = (4, m)
            case .cannotEnter(let m), .cannotCreate(let m): (code, msg) = (5, m)
            }
        case let e as PFDriverError:
            switch e {
            case .notAPF(let m): (code, msg) = (7, m)
            case .unavailable(let m): (code, msg) = (102, m)
            case .refused(let m): (code, msg) = (104, m)
            }
        case let e as SysfsError:
            switch e {
            case .unusable(let m): (code, msg) = (7, m)
            case .notViable(let m): (code, msg) = (102, m)
            case .failed(let m): (code, msg) = (5, m)
            }
        case let e as StateError:
            switch e {
            case .held(let m): (code, msg) = (11, m)
            case .corrupt(let m): (code, msg) = (5, m)
            }
        case let e as NetlinkError: (code, msg) = (103, e.description)
        case let e as FSError: (code, msg) = (5, e.description)
        case let e as SpawnError: (code, msg) = (5, e.description)
        case let e as CNIError: return e
        default: return .internal("\(error)")
        }
        return CNIError(code: code, msg: msg)
    }
}

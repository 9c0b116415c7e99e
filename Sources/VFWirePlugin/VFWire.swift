import CNIProtocol
import Netconf
import PFDriver
import VFState

/// The vfwire CNI plugin: one VF of an SR-IOV PF per attachment, as a netdev in the container
/// (kernel mode) or bound to vfio-pci (vfio mode).
public struct VFWire: CNIPlugin {
    /// The NICs the executable lets vfwire use.
    let nics: NICs
    let state: StateDir

    public init(nics: NICs, state: StateDir = .default) { self.nics = nics; self.state = state }

    func key(_ conf: NetConf, _ env: CNIEnvironment) -> AttachmentKey {
        AttachmentKey(network: conf.name.value, containerID: env.containerID!.value, ifname: env.ifname!.value)
    }
}

/// What the plugin itself refuses or finds, beyond what the layers below it report.
public enum PluginError: Error, CustomStringConvertible, Sendable {
    case invalidConfig(String)
    /// STATUS: the plugin cannot serve ADD now (PF missing, no free VF).
    case unavailable(String)
    /// Every VF of the configured PFs is in use.
    case noFreeVF(String)
    /// The requested VF (or interface name) is attached to another container or not usable.
    case deviceBusy(String)
    /// CHECK found the attachment differs from what ADD made.
    case checkFailed(String)
    /// IPAM printed something that is no CNI result.
    case decode(String)
    case io(String)

    public var description: String {
        switch self {
        case .invalidConfig(let m), .unavailable(let m), .noFreeVF(let m), .deviceBusy(let m),
             .checkFailed(let m), .decode(let m), .io(let m):
            m
        }
    }
}

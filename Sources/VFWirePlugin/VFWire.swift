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

import CNIProtocol
import EmulatedNIC
import PFDriver
import Sandbox
import VFWirePlugin
#if canImport(Glibc)
import Glibc
#endif

if let why = Sandbox.lockDown() { _ = "vfwire: no seccomp sandbox: \(why)\n".withCString { write(2, $0, strlen($0)) } }
// Real NICs first, so a real device wins over an emulated one.
CNISkel.main(VFWire(nics: NICs([KernelNICs(), EmulatedNICs()])))

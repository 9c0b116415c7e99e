import CNIProtocol
import EmulatedNIC
import FileSystem
import PFDriver
import Sandbox
import VFWirePlugin

if let why = Sandbox.lockDown(.plugin) { FS.write(fd: 2, "vfwire: no seccomp sandbox: \(why)\n") }
// Real NICs first, so a real device wins over an emulated one.
CNISkel.main(VFWire(nics: NICs([KernelNICs(), EmulatedNICs()])))

import CNIProtocol
import Sandbox
import VFWirePlugin
#if canImport(Glibc)
import Glibc
#endif

if let why = Sandbox.lockDown() { _ = "vfwire: no seccomp sandbox: \(why)\n".withCString { write(2, $0, strlen($0)) } }
CNISkel.main(VFWire())

import CNIProtocol
import VFWirePlugin

CNISkel.main(VFWire())

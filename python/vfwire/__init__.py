"""vfwire: SR-IOV Virtual Functions for containers and testbeds. `vfwire.mininet` has Mininet links."""

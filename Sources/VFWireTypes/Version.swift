/// The release of vfwire's executables, as `--version` prints it.
public let vfwireVersion = "0.1.0"

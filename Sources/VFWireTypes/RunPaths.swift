/// Where vfwire keeps what it knows at run time. /run is a tmpfs: VF state does not survive a
/// reboot and neither should claims on it, and writes there cost no disk flush on the ADD path.
public struct RunPaths: Sendable, Equatable {
    public let root: String
    public static let standard = RunPaths(root: "/run/vfwire")

    public init(root: String) { self.root = root }

    /// Per VF: the record of its current attachment.
    public var alloc: String { root + "/alloc" }
    /// Per attachment key: a link to the VF it holds.
    public var attach: String { root + "/attach" }
    /// Per VF: the file its operations flock.
    public var locks: String { root + "/locks" }
    /// What each delegate (IPAM) plugin said of its versions.
    public var delegates: String { root + "/delegates" }
    /// Per topology: its plan, CNI configs and CNI cache.
    public var topologies: String { root + "/topo" }
    /// Per container attached before `runc create`: the network namespace made for it.
    public var netns: String { root + "/netns" }
    /// Per container attached before `runc create`: its vfio devices' devinfo files.
    public var devinfo: String { root + "/devinfo" }
    /// The emulated NIC's sysfs tree.
    public var emulatedSysfs: String { root + "/sim/sys" }
}

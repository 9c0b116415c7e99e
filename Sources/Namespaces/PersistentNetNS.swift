import CNetlink
#if canImport(Glibc)
import Glibc
#endif

/// A network namespace that lives as long as a bind mount of it, as `ip netns add` makes one.
/// A runtime wrapper makes one before the container exists, so that its VFs can be attached
/// before `create` and still be found at teardown after the container's init was killed.
public enum PersistentNetNS {
    /// Makes a new namespace and mounts it at `path`, whose directory must exist. The directory
    /// becomes a shared mount so that unmounting reaches every mount namespace that copied it.
    public static func create(at path: String) throws(NamespaceError) -> NetNS {
        try makeShared(String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]))
        let fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o444)
        guard fd >= 0 else { throw .cannotCreate("cannot create \(path): \(errnoText())") }
        close(fd)
        let home = try NetNS.current()
        guard vfw_unshare_net() == 0 else {
            let e = errnoText(); unlink(path)
            throw .cannotCreate("cannot make a network namespace: \(e)")
        }
        let mounted = mount("/proc/thread-self/ns/net", path, nil, UInt(MS_BIND), nil) == 0
        let e = errnoText()
        if vfw_setns_net(home.fd) != 0 { fatalError("cannot return to the host network namespace") }
        guard mounted else { unlink(path); throw .cannotCreate("cannot mount a network namespace at \(path): \(e)") }
        return try NetNS(path: path)
    }

    /// Unmounts and removes `path`; the namespace goes once nothing else holds it.
    public static func remove(at path: String) {
        umount2(path, Int32(MNT_DETACH))
        unlink(path)
    }

    private static func makeShared(_ dir: String) throws(NamespaceError) {
        let flags = UInt(MS_SHARED) | UInt(MS_REC)
        if mount("none", dir, nil, flags, nil) == 0 { return }
        // Not a mount point yet: make it one, as iproute2 does for /run/netns.
        guard mount(dir, dir, "none", UInt(MS_BIND) | UInt(MS_REC), nil) == 0, mount("none", dir, nil, flags, nil) == 0 else {
            throw .cannotCreate("cannot make \(dir) a shared mount: \(errnoText())")
        }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}

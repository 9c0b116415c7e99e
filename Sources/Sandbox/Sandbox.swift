import CSeccomp
#if canImport(Glibc)
import Glibc
#endif

/// vfwire's programs run as root on input others hand them. Before reading it each gives up
/// the system calls its work never needs and that would turn a bug into a host takeover.
/// Denylists, not allowlists: each program runs others (IPAM plugins, CNI chains, container
/// runtimes) that inherit the filter, and their needs are not ours to enumerate. Denied calls
/// fail with EPERM.
public enum Sandbox {
    /// Never needed by anything vfwire runs: kernels, modules, reboot, swap, accounting, the
    /// clock, raw I/O ports, file handles that escape a mount namespace, the kernel log.
    static let host = [
        "kexec_load", "kexec_file_load", "reboot", "init_module", "finit_module", "delete_module",
        "process_vm_readv", "process_vm_writev", "swapon", "swapoff", "acct",
        "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "iopl", "ioperm",
        "open_by_handle_at", "name_to_handle_at", "quotactl", "syslog", "vhangup",
    ]

    public enum Profile: Sendable {
        /// The CNI plugin and its IPAM delegates: no mounts, tracing, BPF or keyrings either.
        case plugin
        /// vfwire-hook: it mounts the namespaces it makes for vfwire-runc, so mount stays.
        case hook
        /// vfwirectl: it starts podman, Docker and runc for topology nodes, which mount,
        /// pivot_root, load cgroup device programs (BPF) and make session keyrings.
        case ctl

        var denied: [String] {
            let noTracing = ["ptrace", "userfaultfd", "perf_event_open"]
            let noRuntime = ["pivot_root", "chroot", "bpf", "keyctl", "add_key", "request_key"]
            switch self {
            case .plugin: return host + noTracing + noRuntime + ["mount", "umount2"]
            case .hook: return host + noTracing + noRuntime
            case .ctl: return host + ["ptrace"]
            }
        }
    }

    /// Installs the filter; returns why it could not, so the caller can log it and go on: a
    /// kernel without seccomp must not cost anyone their network.
    public static func lockDown(_ profile: Profile) -> String? {
        guard let ctx = seccomp_init(vfw_scmp_allow()) else { return "seccomp_init failed" }
        defer { seccomp_release(ctx) }
        // A binary tree of the denied numbers instead of a chain: the kernel runs the filter
        // over every syscall number as it loads it (to cache the always-allowed ones), which
        // took 60 µs longer through the chain of 33 tests; building the tree gives libseccomp
        // some of it back, 25 µs a start net. Before libseccomp 2.5 the chain stays: the
        // same filter, slower.
        _ = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)
        for name in profile.denied {
            let nr = seccomp_syscall_resolve_name(name)
            // A syscall this architecture does not have needs no rule.
            if nr < 0 { continue }
            if vfw_scmp_deny(ctx, vfw_scmp_errno(EPERM), nr) < 0 { return "cannot deny \(name)" }
        }
        let rc = seccomp_load(ctx)
        return rc < 0 ? "seccomp_load: \(String(cString: strerror(-rc)))" : nil
    }
}

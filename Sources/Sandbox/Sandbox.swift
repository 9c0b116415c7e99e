import CSeccomp
#if canImport(Glibc)
import Glibc
#endif

/// vfwire runs as root on input a runtime hands it. Before it reads that input it gives up the
/// system calls no CNI plugin needs and that would turn a bug into a host takeover: loading
/// kernels or modules, rebooting, tracing or reading other processes, mounting, changing the
/// clock, BPF, keyrings. A denylist, not an allowlist: the IPAM plugins it runs inherit the
/// filter, and their needs are not ours to enumerate. Denied calls fail with EPERM.
public enum Sandbox {
    static let denied = [
        "kexec_load", "kexec_file_load", "reboot", "init_module", "finit_module", "delete_module",
        "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root", "chroot",
        "swapon", "swapoff", "acct", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
        "bpf", "keyctl", "add_key", "request_key", "userfaultfd", "perf_event_open",
        "open_by_handle_at", "name_to_handle_at", "iopl", "ioperm", "quotactl", "syslog", "vhangup",
    ]

    /// Installs the filter; returns why it could not, so the caller can log it and go on: a
    /// kernel without seccomp must not cost anyone their network.
    public static func lockDown() -> String? {
        guard let ctx = seccomp_init(vfw_scmp_allow()) else { return "seccomp_init failed" }
        defer { seccomp_release(ctx) }
        for name in denied {
            let nr = seccomp_syscall_resolve_name(name)
            // A syscall this architecture does not have needs no rule.
            if nr < 0 { continue }
            if vfw_scmp_deny(ctx, vfw_scmp_errno(EPERM), nr) < 0 { return "cannot deny \(name)" }
        }
        let rc = seccomp_load(ctx)
        return rc < 0 ? "seccomp_load: \(String(cString: strerror(-rc)))" : nil
    }
}

import FileSystem
import Netconf
#if canImport(Glibc)
import Glibc
#endif

/// Lines to `logFile` (or stderr for warnings and worse when there is none), as sriov-cni does.
struct Log {
    var level: NetConf.LogLevel = .info
    var fd: Int32 = 2
    var context = ""

    init(_ conf: NetConf, context: String) {
        level = conf.logLevel
        self.context = context
        if let f = conf.logFile {
            let fd = open(f, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            if fd >= 0 { self.fd = fd }
        }
        if fd == 2 && level > .warning { level = .warning }
    }

    func write(_ l: NetConf.LogLevel, _ msg: @autoclosure () -> String) {
        guard l <= level else { return }
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let line = "\(ts.tv_sec).\(String(1000 + ts.tv_nsec / 1_000_000).dropFirst()) vfwire[\(getpid())] \(l.rawValue) \(context) \(msg())\n"
        FS.write(fd: fd, line)
    }

    func debug(_ m: @autoclosure () -> String) { write(.debug, m()) }
    func info(_ m: @autoclosure () -> String) { write(.info, m()) }
    func warn(_ m: @autoclosure () -> String) { write(.warning, m()) }
    func error(_ m: @autoclosure () -> String) { write(.error, m()) }
}

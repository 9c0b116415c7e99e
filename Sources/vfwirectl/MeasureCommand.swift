import FileSystem
import LinkKinds
import Probe
import Shaping
#if canImport(Glibc)
import Glibc
#endif

/// `vfwirectl probe`, `netem` and `link`: measuring and shaping links between namespaces.
enum MeasureCommand {
    static let usage = """
    usage: vfwirectl probe --from NETNS --to NETNS:ADDRESS [--count N] [--rate PPS] [--size BYTES]
                           [--cpu A,B] [--json] [--hist FILE] [--plot FILE.svg|FILE.png] [--label TEXT] [--no-ping]
               UDP request/response timed by kernel timestamps, reflector started in the --to
               namespace for the run; ping -c N -i 0 over the same path for reference
           vfwirectl probe --flood --from NETNS --to NETNS:ADDRESS [--count N] [--duration S] [--size BYTES] [--cpu A,B] [--json]
               64-byte (or --size) datagrams as fast as one socket sends, bounded by count and time
           vfwirectl probe plot FILE.json... --out FILE.svg|FILE.png
               the CDFs of runs written by --hist, side by side
           vfwirectl netem set NETNS IFACE [--delay 1ms] [--jitter 100us] [--loss 10%] [--rate KBIT|100mbit] [--corruption 0.1%]
               replace IFACE's egress impairments (containerlab's names and units; none given: clear them)
           vfwirectl netem show NETNS IFACE
           vfwirectl link add veth|ebpf|mirred|bridge|macvlan NETNS:IFACE[:ADDR/LEN] NETNS:IFACE[:ADDR/LEN]
               a software link between two namespaces (its middle, if any, in a namespace vfwl-…)
           vfwirectl link del NETNS:IFACE NETNS:IFACE

    """

    static func run(_ args: [String]) -> Int32 {
        do {
            switch (args.first, args.dropFirst().first) {
            case ("probe", "plot"): try plot(Array(args.dropFirst(2)))
            case ("probe", _): return try probe(Array(args.dropFirst()))
            case ("netem", "set"):
                guard args.count >= 4 else { throw UsageError("netem set needs NETNS IFACE") }
                do { try Shaper.set(namespace: args[2], interface: args[3], try Impairment(flags: Array(args[4...]))) }
                catch ShapingError.usage(let m) { throw UsageError(m) }
            case ("netem", "show"):
                guard args.count == 4 else { throw UsageError("netem show needs NETNS IFACE") }
                FS.write(fd: 1, "\(args[3]) \(try Shaper.show(namespace: args[2], interface: args[3]).flags)\n")
            case ("link", "add"):
                guard args.count == 5, let kind = LinkKind(rawValue: args[2]) else {
                    throw UsageError("link add takes a kind (\(LinkKind.allCases.map(\.rawValue).joined(separator: ", "))) and two ends")
                }
                try SoftwareLink.create(kind, try end(args[3]), try end(args[4]))
            case ("link", "del"):
                guard args.count == 4 else { throw UsageError("link del takes two ends") }
                SoftwareLink.delete(try end(args[2]), try end(args[3]))
            default: throw UsageError("unknown command")
            }
            return 0
        } catch let e as UsageError {
            FS.write(fd: 2, "vfwirectl: \(e.description)\n\(usage)")
            return 2
        } catch {
            FS.write(fd: 2, "vfwirectl: \(error)\n")
            return 1
        }
    }

    static func probe(_ args: [String]) throws -> Int32 {
        var from: String?, to: String?, json = false, ping = true, flood = false, duration = 5.0
        var hist: String?, plotFile: String?, count: Int?, size: Int?, givenLabel: String?
        var o = ProbeOptions(from: "", to: "", address: "")
        var i = 0
        func value() throws -> String {
            i += 1
            guard i < args.count else { throw UsageError("\(args[i - 1]) needs a value") }
            return args[i]
        }
        while i < args.count {
            switch args[i] {
            case "--from": from = try value()
            case "--to": to = try value()
            case "--count": guard let n = Int(try value()), n > 0 else { throw UsageError("--count takes a positive number") }; count = n
            case "--rate": guard let r = Double(try value()), r > 0 else { throw UsageError("--rate takes packets per second") }; o.rate = r
            case "--size": guard let s = Int(try value()) else { throw UsageError("--size takes bytes") }; size = s
            case "--duration": guard let d = Double(try value()), d > 0 else { throw UsageError("--duration takes seconds") }; duration = d
            case "--cpu":
                let cpus = try value().split(separator: ",").map { Int32($0) }
                guard cpus.count == 2, let a = cpus[0], let b = cpus[1] else { throw UsageError("--cpu takes SENDER,REFLECTOR, e.g. 0,1") }
                o.senderCPU = a; o.reflectorCPU = b
            case "--json": json = true
            case "--hist": hist = try value()
            case "--label": givenLabel = try value()
            case "--plot": plotFile = try value()
            case "--no-ping": ping = false
            case "--flood": flood = true
            default: throw UsageError("unknown argument \(args[i])")
            }
            i += 1
        }
        guard let from, let to, let colon = to.lastIndex(of: ":") else { throw UsageError("--from NETNS and --to NETNS:ADDRESS are required") }
        o.from = from
        o.to = String(to[..<colon])
        o.address = String(to[to.index(after: colon)...])
        if flood {
            o.count = count ?? 1_000_000
            o.size = size ?? Probe.minimumFramePayload
            let r = try Probe.flood(o, maxSeconds: duration)
            let load = loadAverage()
            if json {
                FS.write(fd: 1, "{\"sent\":\(r.sent),\"received\":\(r.received),\"seconds\":\(HistogramFiles.fixed(r.seconds, 6)),"
                    + "\"pps\":\(HistogramFiles.fixed(r.pps, 0)),\"size\":\(o.size),\"load\":\(HistogramFiles.quoted(load))}\n")
            } else {
                FS.write(fd: 1, "flood \(from) -> \(to): \(r.sent) sent, \(r.received) received in \(HistogramFiles.fixed(r.seconds, 3)) s, "
                    + "\(HistogramFiles.fixed(r.pps, 0)) packets/s of \(o.size) payload bytes (load \(load))\n")
            }
            return 0
        }
        o.count = count ?? 1000
        o.size = size ?? 32
        let r = try Probe.run(o)
        let l = r.latencies
        let label = givenLabel ?? "\(from)->\(to)"
        let reference = ping ? try PingResult.run(namespace: from, address: o.address, count: o.count, size: o.size) : nil
        let load = loadAverage()
        let mean = l.samples.isEmpty ? 0 : Double(l.samples.reduce(0, +)) / Double(l.samples.count) / 1000
        if let hist {
            try FS.write(hist + ".csv", HistogramFiles.csv(l))
            try FS.write(hist + ".json", HistogramFiles.json(l, label: label))
            try FS.write(hist + ".hgrm", HistogramFiles.hgrm(l))
        }
        if let plotFile {
            try draw([try HistogramJSON.read(Array(HistogramFiles.json(l, label: label).utf8))], to: plotFile)
        }
        if json {
            var keys = ["\"sent\":\(l.sent)", "\"received\":\(l.received)", "\"loss_pct\":\(HistogramFiles.fixed(l.loss * 100, 3))"]
            keys += l.summary.map { "\"\($0.key)\":\($0.us.map { HistogramFiles.us($0) } ?? "null")" }
            keys += ["\"mean_us\":\(HistogramFiles.us(mean))", "\"kernel_stamped\":\(r.kernelStamped)", "\"hardware_stamped\":\(r.hardwareStamped)",
                     "\"rate\":\(HistogramFiles.fixed(o.rate, 0))", "\"size\":\(o.size)", "\"load\":\(HistogramFiles.quoted(load))"]
            if let p = reference {
                keys += ["\"ping_sent\":\(p.sent)", "\"ping_received\":\(p.received)", "\"ping_min_us\":\(HistogramFiles.us(p.minUs))",
                         "\"ping_avg_us\":\(HistogramFiles.us(p.avgUs))", "\"ping_max_us\":\(HistogramFiles.us(p.maxUs))"]
            }
            FS.write(fd: 1, "{" + keys.joined(separator: ",") + "}\n")
        } else {
            FS.write(fd: 1, "probe \(label): \(l.sent) sent, \(l.received) received, loss \(HistogramFiles.fixed(l.loss * 100, 2)) %, "
                + "\(o.size)-byte payload at \(HistogramFiles.fixed(o.rate, 0))/s; \(r.kernelStamped) kernel-stamped (\(r.hardwareStamped) hardware)\n")
            FS.write(fd: 1, "  " + l.summary.map { "\($0.label) \($0.us.map { HistogramFiles.fixed($0, 1) } ?? "-")" }.joined(separator: "  ")
                + "  mean \(HistogramFiles.fixed(mean, 1)) µs\n")
            if let p = reference {
                FS.write(fd: 1, "  ping -c \(o.count) -i 0 on the same path: min \(HistogramFiles.fixed(p.minUs, 1)) avg \(HistogramFiles.fixed(p.avgUs, 1)) "
                    + "max \(HistogramFiles.fixed(p.maxUs, 1)) µs, \(p.received)/\(p.sent) answered; probe mean − ping avg "
                    + "\(HistogramFiles.fixed(mean - p.avgUs, 1)) µs, probe min − ping min \(HistogramFiles.fixed((l.summary[0].us ?? 0) - p.minUs, 1)) µs\n")
            }
            FS.write(fd: 1, "  load \(load)\n")
        }
        return 0
    }

    /// `topo probe`: this probe between two nodes' namespaces; options given after the nodes
    /// (a `--label` too) come after the ones the topology gives.
    static func topologyProbe(from: String, to: String, address: String, label: String, options: [String]) -> Int32 {
        run(["probe", "--label", label] + options + ["--from", from, "--to", "\(to):\(address)"])
    }

    static func end(_ text: String) throws -> LinkEnd {
        guard let e = LinkEnd(text) else { throw UsageError("'\(text)' is not NETNS:IFACE or NETNS:IFACE:ADDRESS/LEN") }
        return e
    }

    static func plot(_ args: [String]) throws {
        guard let o = args.firstIndex(of: "--out"), o + 1 < args.count else { throw UsageError("probe plot needs --out FILE.svg|FILE.png") }
        let inputs = args.enumerated().filter { $0.offset != o && $0.offset != o + 1 }.map(\.element)
        guard !inputs.isEmpty else { throw UsageError("probe plot needs at least one histogram JSON") }
        let runs = try inputs.map { path throws -> HistogramJSON in
            guard let bytes = FS.read(path) else { throw UsageError("cannot read \(path)") }
            return try HistogramJSON.read(bytes)
        }
        try draw(runs, to: args[o + 1])
    }

    static func draw(_ runs: [HistogramJSON], to file: String) throws {
        if file.hasSuffix(".svg") { try FS.write(file, CDFPlot.svg(runs)); return }
        guard file.hasSuffix(".png") else { throw UsageError("--plot and --out take FILE.svg or FILE.png") }
        try Matplotlib.png(runs, to: file)
    }

    static func loadAverage() -> String {
        guard let b = FS.read("/proc/loadavg") else { return "unknown" }
        return String(decoding: b, as: UTF8.self).split(separator: " ").prefix(3).joined(separator: " ")
    }
}

import Foundation
import XCTest

/// The real podman (Debian's 4.3, CNI backend) driving vfwire: podman reads a vfwire conflist from
/// a private net.d, runs the freshly built plugin for ADD and DEL, and its containers talk over
/// the emulated NIC's VFs. Everything podman keeps lives under a scratch directory.
///
/// Addresses: podman 4.3's `--network NAME:ip=A` reaches the plugin only as `CNI_ARGS ...;IP=A`
/// with a bare address (it never sets runtimeConfig.ips, even when the conflist declares the
/// `ips` capability), and the static IPAM plugin rejects that: "the 'ip' field is expected to be
/// in CIDR notation". podman appends its own environment's CNI_ARGS to the ones it builds, so a
/// per-container `CNI_ARGS=IP=198.18.5.1/24` gives static IPAM a CIDR address on one network.
final class PodmanTests: XCTestCase {
    func conflist(_ name: String, pf: SimPF, vlan: Int, log: String) -> String {
        json(["cniVersion": "1.0.0", "name": name,
              "plugins": [["type": "vfwire", "pf": pf.name, "vlan": vlan, "logLevel": "debug", "logFile": log,
                           "ipam": ["type": "static"]] as [String: Any]]])
    }

    /// The result podman cached from the plugin's ADD (its stdout), for network/container/ifname.
    func cachedResult(_ network: String, _ containerID: String, _ ifname: String) -> [String: Any] {
        let path = "/var/lib/cni/results/\(network)-\(containerID)-\(ifname)"
        guard let d = FileManager.default.contents(atPath: path),
              let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any] else { return [:] }
        return o["result"] as? [String: Any] ?? [:]
    }

    /// The VF table row carrying this admin MAC.
    func vf(_ pf: SimPF, mac: String) -> [String: String]? {
        pf.table().values.first { $0["mac"] == mac }
    }

    func testPodmanContainersTalkOverVFsAndGiveThemBack() throws {
        let fm = FileManager.default
        let pf = try SimPF(vfs: 3)
        // podman's CNI result cache too.
        let podman = try Podman(scratchPrefix: "vfwire-podman-", alsoCreates: ["/var/lib/cni/results", "/var/lib/cni"])
        let scratch = podman.scratch
        let suffix = randomSuffix(6)
        let net100 = "vfw100-" + suffix, net200 = "vfw200-" + suffix
        let a = "vfw-a-" + suffix, b = "vfw-b-" + suffix, c = "vfw-c-" + suffix, d = "vfw-d-" + suffix
        let log = scratch + "/vfwire.log"
        var netnsPaths: [String] = []

        defer {
            // Even when an assertion failed: containers first (their DEL gives the VFs back), any
            // namespace podman left, then podman's storage and scratch dir, then the PF.
            podman(["rm", "-f", "-t", "0", "--ignore", a, b, c, d])
            for ns in netnsPaths where fm.fileExists(atPath: ns) {
                sh(["ip", "netns", "del", URL(fileURLWithPath: ns).lastPathComponent])
            }
            podman.remove()
            withExtendedLifetime(pf) {}
        }
        /// What the plugin logged, for failure messages.
        func pluginLog() -> String { fileText("vfwire log", log) }

        let before = hostSnapshot(pf)

        try podman.prepare()
        try conflist(net100, pf: pf, vlan: 100, log: log).write(toFile: "\(podman.netDir)/\(net100).conflist", atomically: true, encoding: .utf8)
        try conflist(net200, pf: pf, vlan: 200, log: log).write(toFile: "\(podman.netDir)/\(net200).conflist", atomically: true, encoding: .utf8)
        let nets = podman(["network", "ls", "--format", "{{.Name}} {{.Driver}}"])
        XCTAssertTrue(nets.out.contains("\(net100) vfwire"), "podman sees the vfwire network: \(nets.out)\(nets.err)")


        // A container that exits by itself: ADD, then DEL from podman's cleanup.
        let once = podman(["run", "--rm", "--network", net100, podman.image, "ip", "-o", "-4", "addr", "show", "dev", "eth0"],
                          cniArgs: "IP=198.18.5.9/24")
        XCTAssertEqual(once.status, 0, "podman run --rm: \(once.out)\(once.err)\(pluginLog())")
        XCTAssertTrue(once.out.contains("198.18.5.9/24"), "the one-shot container's eth0: \(once.out)")
        XCTAssertEqual(settledSnapshot(pf, before), before, "the PF's host state after a container exited\(pluginLog())")

        // A: the default interface name, the MAC from --mac-address (CNI_ARGS MAC=).
        let macA = "02:00:00:05:00:01", macB = "02:00:00:05:00:02", macC = "02:00:00:05:00:03"
        let runA = podman(["run", "-d", "--name", a, "--network", net100, "--mac-address", macA, podman.image, "sleep", "3600"],
                          cniArgs: "IP=198.18.5.1/24")
        XCTAssertEqual(runA.status, 0, "podman run A: \(runA.out)\(runA.err)\(pluginLog())")
        // B: interface name and MAC as per-network options.
        let runB = podman(["run", "-d", "--name", b, "--network", "\(net100):interface_name=net1,mac=\(macB)",
                           podman.image, "sleep", "3600"], cniArgs: "IP=198.18.5.2/24")
        XCTAssertEqual(runB.status, 0, "podman run B: \(runB.out)\(runB.err)\(pluginLog())")
        guard runA.status == 0, runB.status == 0 else { return }
        let idA = runA.out.trimmingCharacters(in: .whitespacesAndNewlines)
        let idB = runB.out.trimmingCharacters(in: .whitespacesAndNewlines)

        // What the plugin printed for podman's ADD, as podman cached it.
        let resultA = cachedResult(net100, idA, "eth0")
        let ifaceA = (resultA["interfaces"] as? [[String: Any]])?.first ?? [:]
        XCTAssertEqual(ifaceA["name"] as? String, "eth0", "A's ADD result: \(resultA)")
        XCTAssertEqual(ifaceA["mac"] as? String, macA, "A's ADD result: \(resultA)")
        let sandboxA = ifaceA["sandbox"] as? String ?? ""
        XCTAssertTrue(sandboxA.hasPrefix("/run/netns/"), "A's ADD result: \(resultA)")
        XCTAssertEqual((resultA["ips"] as? [[String: Any]])?.first?["address"] as? String, "198.18.5.1/24", "\(resultA)")
        let sandboxB = ((cachedResult(net100, idB, "net1")["interfaces"] as? [[String: Any]])?.first?["sandbox"] as? String) ?? ""
        netnsPaths = [sandboxA, sandboxB].filter { !$0.isEmpty }
        let inspect = podman(["inspect", "--format", "{{json .NetworkSettings.Networks}}", a])
        XCTAssertTrue(inspect.out.contains("\"IPAddress\":\"198.18.5.1\""), "podman inspect A: \(inspect.out)\(inspect.err)")

        // Inside A: the interface podman asked for, a VF with A's MAC and address.
        XCTAssertEqual(podman(["exec", a, "cat", "/sys/class/net/eth0/address"]).out.trimmingCharacters(in: .whitespacesAndNewlines), macA)
        let linksA = podman(["exec", a, "ip", "-o", "link"]).out
        XCTAssertTrue(linksA.contains(": eth0") && linksA.contains(macA), "A's links: \(linksA)")
        let addrA = podman(["exec", a, "ip", "-o", "-4", "addr", "show", "dev", "eth0"]).out
        XCTAssertTrue(addrA.contains("198.18.5.1/24"), "A's addresses: \(addrA)")
        let linksB = podman(["exec", b, "ip", "-o", "link"]).out
        XCTAssertTrue(linksB.contains(": net1") && linksB.contains(macB) && !linksB.contains(": eth0"), "B's links: \(linksB)")

        // Each got its own VF, out of the host, with vlan 100 and its MAC in the PF's table.
        let vfA = vf(pf, mac: macA), vfB = vf(pf, mac: macB)
        XCTAssertEqual(vfA?["vlan"], "100", "A's VF: \(pf.table())")
        XCTAssertEqual(vfA?["netdev"], "-", "A's VF netdev left the host: \(pf.table())")
        XCTAssertEqual(vfB?["vlan"], "100", "B's VF: \(pf.table())")
        XCTAssertEqual(vfB?["netdev"], "-", "B's VF netdev left the host: \(pf.table())")
        XCTAssertNotEqual(vfA?["pci"], vfB?["pci"])

        // B reaches A through the VF pair.
        let ping = podman(["exec", b, "ping", "-c", "2", "-W", "1", "198.18.5.1"])
        XCTAssertEqual(ping.status, 0, "B pings A: \(ping.out)\(ping.err)")

        // A stop gives A's VF back (DEL with the cached prevResult); a start takes one again (ADD).
        let stop = podman(["stop", "-t", "0", a])
        XCTAssertEqual(stop.status, 0, "podman stop A: \(stop.out)\(stop.err)")
        XCTAssertNil(vf(pf, mac: macA), "A's VF was given back on stop: \(pf.table())")
        XCTAssertFalse(fm.fileExists(atPath: sandboxA), "podman removed A's namespace")
        let start = podman(["start", a], cniArgs: "IP=198.18.5.1/24")
        XCTAssertEqual(start.status, 0, "podman start A: \(start.out)\(start.err)\(pluginLog())")
        let sandboxA2 = ((cachedResult(net100, idA, "eth0")["interfaces"] as? [[String: Any]])?.first?["sandbox"] as? String) ?? ""
        if !sandboxA2.isEmpty { netnsPaths.append(sandboxA2) }
        XCTAssertEqual(vf(pf, mac: macA)?["vlan"], "100", "A has a VF again: \(pf.table())")
        let ping2 = podman(["exec", b, "ping", "-c", "2", "-W", "1", "198.18.5.1"])
        XCTAssertEqual(ping2.status, 0, "B pings A after A's restart: \(ping2.out)\(ping2.err)")

        // C: the same PF, vlan 200: no way to A.
        let runC = podman(["run", "-d", "--name", c, "--network", net200, "--mac-address", macC, podman.image, "sleep", "3600"],
                          cniArgs: "IP=198.18.5.3/24")
        XCTAssertEqual(runC.status, 0, "podman run C: \(runC.out)\(runC.err)\(pluginLog())")
        if runC.status == 0 {
            let idC = runC.out.trimmingCharacters(in: .whitespacesAndNewlines)
            let sandboxC = ((cachedResult(net200, idC, "eth0")["interfaces"] as? [[String: Any]])?.first?["sandbox"] as? String) ?? ""
            if !sandboxC.isEmpty { netnsPaths.append(sandboxC) }
            XCTAssertEqual(vf(pf, mac: macC)?["vlan"], "200", "C's VF: \(pf.table())")
            XCTAssertTrue(podman(["exec", c, "ip", "-o", "-4", "addr"]).out.contains("198.18.5.3/24"))
            // The probe works from both sides (C answers itself, A reaches B), so a failed ping
            // below is the VLANs keeping them apart.
            let selfC = podman(["exec", c, "ping", "-c", "1", "-W", "1", "198.18.5.3"])
            XCTAssertEqual(selfC.status, 0, "C pings its own address: \(selfC.out)\(selfC.err)")
            let aToB = podman(["exec", a, "ping", "-c", "1", "-W", "1", "198.18.5.2"])
            XCTAssertEqual(aToB.status, 0, "A pings B: \(aToB.out)\(aToB.err)")
            XCTAssertNotEqual(podman(["exec", c, "ping", "-c", "2", "-W", "1", "198.18.5.1"]).status, 0, "vlan 200 cannot reach A")
            XCTAssertNotEqual(podman(["exec", a, "ping", "-c", "1", "-W", "1", "198.18.5.3"]).status, 0, "nor A vlan 200")

            // Every VF is taken: podman run fails with the plugin's error (then podman's DEL
            // without a prevResult), and the PF is left exactly as it was.
            let full = hostSnapshot(pf)
            let runD = podman(["run", "-d", "--name", d, "--network", net100, podman.image, "sleep", "3600"],
                              cniArgs: "IP=198.18.5.4/24")
            XCTAssertNotEqual(runD.status, 0, "podman run D with no VF left: \(runD.out)")
            XCTAssertTrue(runD.err.contains("plugin type=\"vfwire\" failed (add)"), "podman run D: \(runD.err)")
            XCTAssertEqual(hostSnapshot(pf), full, "a failed ADD changes nothing\(pluginLog())")
        }

        // podman rm -f: every VF back as it was, every namespace and cached result gone.
        let rm = podman(["rm", "-f", "-t", "0", "--ignore", a, b, c, d])
        XCTAssertEqual(rm.status, 0, "podman rm: \(rm.out)\(rm.err)")
        XCTAssertEqual(settledSnapshot(pf, before), before, "the PF's host state after podman rm\(pluginLog())")
        for ns in netnsPaths { XCTAssertFalse(fm.fileExists(atPath: ns), "podman removed \(ns)") }
        let cached = (try? fm.contentsOfDirectory(atPath: "/var/lib/cni/results")) ?? []
        XCTAssertEqual(cached.filter { $0.contains(suffix) }, [], "podman dropped its cached results")
    }

    // MARK: hooks.d

    /// podman runs the freshly built vfwire-hook from a private hooks.d directory holding the
    /// shipped hooks/vfwire-hook-create.json and hooks/vfwire-hook-poststop.json, changed only in
    /// the hook's path and directories; the containers themselves have `--network none`.
    func testPodmanHooksDirAttachesByAnnotation() throws {
        let fm = FileManager.default
        let pf = try SimPF(vfs: 2)
        let podman = try Podman(scratchPrefix: "vfwire-hookpm-")
        let scratch = podman.scratch
        let suffix = randomSuffix(6)
        let network = "vfwhook-" + suffix
        let plain = "vfw-plain-" + suffix, attached = "vfw-hook-" + suffix, broken = "vfw-broken-" + suffix
        let hooksDir = scratch + "/hooks.d", hookCache = scratch + "/hook-cache", log = scratch + "/vfwire.log"
        let mac = "02:00:00:00:0c:01"
        /// Every podman call reads hooks from our directory only (`--hooks-dir` replaces hooks_dir).
        @discardableResult
        func pm(_ args: [String]) -> Run { podman(["--hooks-dir", hooksDir] + args) }
        func pluginLog() -> String { fileText("vfwire log", log) }

        defer {
            // Containers first (the poststop hook gives the VF back), then podman's storage.
            pm(["rm", "-f", "-t", "0", "--ignore", plain, attached, broken])
            podman.remove()
            withExtendedLifetime(pf) {}
        }

        let before = hostSnapshot(pf)
        try podman.prepare()
        try writeNetwork(network, pf: pf, vlan: 100, address: "198.18.12.1/24", to: podman.netDir, log: log)

        // The shipped hooks.d files, pointed at the built hook and at our directories.
        let stages = try writeShippedHooksDir(hooksDir, adding: hookArgs(cache: hookCache, confDir: podman.netDir))
        XCTAssertEqual(stages, ["createRuntime", "poststop"], "the stages the shipped hooks.d files ask for")

        // No annotation: the `when` clause keeps the hook away. It would attach net1 from the
        // environment variable if it ran, so no net1 means it did not run.
        let runPlain = pm(["run", "-d", "--name", plain, "--network", "none", "--env", "VFWIRE_NETWORKS=\(network)",
                           podman.image, "sleep", "300"])
        XCTAssertEqual(runPlain.status, 0, "podman run without the annotation: \(runPlain.out)\(runPlain.err)")
        let plainLinks = pm(["exec", plain, "ip", "-o", "link"]).out
        XCTAssertTrue(plainLinks.contains(": lo:") && !plainLinks.contains("net1"), "no VF without the annotation: \(plainLinks)")
        XCTAssertEqual(hostSnapshot(pf), before, "no VF taken without the annotation\(pluginLog())")

        // The annotation: the hook attaches the network at createRuntime.
        let started = Date()
        let run = pm(["run", "-d", "--name", attached, "--annotation", "vfwire.io/networks=\(network):eth1;mac=\(mac)",
                      "--network", "none", podman.image, "sleep", "300"])
        let runTime = Date().timeIntervalSince(started)
        XCTAssertEqual(run.status, 0, "podman run with the annotation: \(run.out)\(run.err)\(pluginLog())")
        guard run.status == 0 else { return }
        let id = run.out.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(pm(["exec", attached, "cat", "/sys/class/net/eth1/address"]).out.trimmingCharacters(in: .whitespacesAndNewlines),
                       mac, "eth1's MAC inside")
        let addr = pm(["exec", attached, "ip", "-o", "-4", "addr", "show", "dev", "eth1"])
        XCTAssertTrue(addr.out.contains("198.18.12.1/24"), "eth1's address inside: \(addr.out)\(addr.err)")
        let table = pf.table()
        let row = table.values.first { $0["mac"] == mac }
        XCTAssertEqual(row?["vlan"], "100", "the VF carrying the container's MAC: \(table)")
        XCTAssertEqual(row?["netdev"], "-", "its netdev left the host: \(table)")
        XCTAssertEqual(table.values.filter { $0["netdev"] == "-" }.count, 1, "one VF taken, none for \(plain): \(table)")
        XCTAssertTrue(fm.fileExists(atPath: "\(hookCache)/\(id)/\(network)-eth1.json"), "the hook cached the attachment for poststop")

        // A create hook that fails aborts podman run with the hook's message and leaves nothing.
        let taken = hostSnapshot(pf)
        let runBroken = pm(["run", "-d", "--name", broken, "--annotation", "vfwire.io/networks=nosuchnet-\(suffix):eth1",
                            "--network", "none", podman.image, "sleep", "300"])
        XCTAssertNotEqual(runBroken.status, 0, "podman run naming no network: \(runBroken.out)")
        XCTAssertTrue(runBroken.err.contains("vfwire-hook: no CNI network named nosuchnet-\(suffix)"), "podman run: \(runBroken.err)")
        XCTAssertEqual(hostSnapshot(pf), taken, "a failed create hook changes nothing\(pluginLog())")

        // podman rm: the poststop hook gives the VF back exactly as it was.
        let rm = pm(["rm", "-f", "-t", "0", "--ignore", plain, attached, broken])
        XCTAssertEqual(rm.status, 0, "podman rm: \(rm.out)\(rm.err)")
        XCTAssertEqual(settledSnapshot(pf, before), before, "the PF's host state after podman rm\(pluginLog())")
        XCTAssertEqual((try? fm.contentsOfDirectory(atPath: hookCache)) ?? [], [], "the hook's cache is empty again")
        print("PodmanTests: podman run with the hook took \(String(format: "%.2f", runTime)) s")
    }
}

import Foundation
import XCTest

/// Every bad input gets its CNI error code, exit status 1, and leaves the host exactly as it was.
final class BadInputTests: XCTestCase {
    struct Case {
        var what: String
        var conf: [String: Any]
        var env: [String: String?] = [:]
        var code: Int
        var message: String? = nil
    }

    func testBadInputsGetTheirCodeAndChangeNothing() throws {
        let pf = try SimPF(vfs: 2)
        let ns = Netns()
        let base: [String: Any] = ["cniVersion": "1.1.0", "name": "bad", "type": "vfwire", "pf": pf.name,
                                   "ipam": ["type": "static", "addresses": [["address": "198.18.0.1/24"]]]]
        func with(_ changes: [String: Any?]) -> [String: Any] {
            var o = base
            for (k, v) in changes { o[k] = v }
            return o
        }
        let cases: [Case] = [
            Case(what: "unsupported version", conf: with(["cniVersion": "9.9.9"]), code: 1, message: "9.9.9"),
            Case(what: "no cniVersion", conf: with(["cniVersion": nil]), code: 7, message: "cniVersion"),
            Case(what: "no name", conf: with(["name": nil]), code: 7, message: "name"),
            Case(what: "bad name", conf: with(["name": "a/b"]), code: 7, message: "name"),
            Case(what: "no VF source", conf: with(["pf": nil]), code: 7, message: "deviceID"),
            Case(what: "vlan too big", conf: with(["vlan": 4095]), code: 7, message: "vlan must be an integer from 0 to 4094"),
            Case(what: "vlan not a number", conf: with(["vlan": "100"]), code: 7, message: "vlan"),
            Case(what: "vlan fraction", conf: with(["vlan": 10.5]), code: 7, message: "vlan"),
            Case(what: "qos without vlan", conf: with(["vlanQoS": 3]), code: 7, message: "vlanQoS"),
            Case(what: "qos too big", conf: with(["vlan": 10, "vlanQoS": 8]), code: 7, message: "vlanQoS must be an integer from 0 to 7"),
            Case(what: "qos on vlan 0", conf: with(["vlan": 0, "vlanQoS": 2]), code: 7, message: "vlanQoS"),
            Case(what: "bad proto", conf: with(["vlan": 10, "vlanProto": "802.1x"]), code: 7, message: "vlanProto"),
            Case(what: "bad mac", conf: with(["mac": "02:00:00:00:00"]), code: 7, message: "mac"),
            Case(what: "multicast mac", conf: with(["mac": "01:00:5e:00:00:01"]), code: 7, message: "unicast"),
            Case(what: "bad spoofchk", conf: with(["spoofchk": "yes"]), code: 7, message: "spoofchk"),
            Case(what: "bad trust", conf: with(["trust": true]), code: 7, message: "trust"),
            Case(what: "bad link_state", conf: with(["link_state": "up"]), code: 7, message: "link_state"),
            Case(what: "min above max", conf: with(["min_tx_rate": 200, "max_tx_rate": 100]), code: 7, message: "min_tx_rate"),
            Case(what: "negative rate", conf: with(["max_tx_rate": -1]), code: 7, message: "max_tx_rate"),
            Case(what: "mtu too small", conf: with(["mtu": 10]), code: 7, message: "mtu must be an integer from 68 to 65535"),
            Case(what: "pf as path", conf: with(["pf": "../../etc"]), code: 7, message: "pf"),
            Case(what: "pf missing", conf: with(["pf": "nosuchpf0"]), code: 7, message: "nosuchpf0"),
            Case(what: "empty pf list", conf: with(["pf": [String]()]), code: 7, message: "pf"),
            Case(what: "deviceID as path", conf: with(["pf": nil, "deviceID": "../../../etc/passwd"]), code: 7, message: "deviceID"),
            Case(what: "deviceID absent", conf: with(["pf": nil, "deviceID": "00fe:ff:1f.7"]), code: 7, message: "no such PCI device"),
            Case(what: "deviceID is a PF", conf: with(["pf": nil, "deviceID": pf.pci]), code: 7, message: "not an SR-IOV VF"),
            Case(what: "deviceID of another PF", conf: with(["pf": "other0", "deviceID": pf.vfPCI(0)]), code: 7, message: "belongs to PF"),
            Case(what: "ipam type as path", conf: with(["ipam": ["type": "../../bin/sh"]]), code: 7, message: "ipam.type"),
            Case(what: "ipam plugin missing", conf: with(["ipam": ["type": "nosuchipam"]]), code: 4, message: "nosuchipam"),
            Case(what: "ipam fails after VF setup", conf: with(["vlan": 33, "mac": "02:00:00:00:cc:01",
                                                                "ipam": ["type": "static", "addresses": [["address": "300.1.1.1/24"]]]]),
                 code: -1),
            Case(what: "route fails after the move", conf: with(["vlan": 34, "mtu": 1300,
                "ipam": ["type": "static", "addresses": [["address": "198.18.0.1/24"]],
                         "routes": [["dst": "198.19.0.0/16", "gw": "198.18.99.1"]]]]), code: 103, message: "route"),
            Case(what: "no CNI_COMMAND", conf: base, env: ["CNI_COMMAND": nil], code: 4, message: "CNI_COMMAND"),
            Case(what: "bad CNI_COMMAND", conf: base, env: ["CNI_COMMAND": "FOO"], code: 4, message: "FOO"),
            Case(what: "bad container ID", conf: base, env: ["CNI_CONTAINERID": "../x"], code: 4, message: "CNI_CONTAINERID"),
            Case(what: "no container ID", conf: base, env: ["CNI_CONTAINERID": nil], code: 4, message: "CNI_CONTAINERID"),
            Case(what: "ifname with slash", conf: base, env: ["CNI_IFNAME": "a/b"], code: 4, message: "CNI_IFNAME"),
            Case(what: "ifname too long", conf: base, env: ["CNI_IFNAME": "abcdefghijklmnop"], code: 4, message: "CNI_IFNAME"),
            Case(what: "no netns", conf: base, env: ["CNI_NETNS": nil], code: 4, message: "CNI_NETNS"),
            Case(what: "netns missing", conf: base, env: ["CNI_NETNS": "/run/netns/vft-nonexistent"], code: 4, message: "vft-nonexistent"),
            Case(what: "netns not a netns", conf: base, env: ["CNI_NETNS": "/etc/hostname"], code: 4, message: "not a network namespace"),
            Case(what: "relative netns", conf: base, env: ["CNI_NETNS": "run/netns/x"], code: 4, message: "absolute"),
            Case(what: "unknown CNI_ARGS", conf: base, env: ["CNI_ARGS": "FOO=1"], code: 4, message: "FOO"),
            Case(what: "bad CNI_ARGS MAC", conf: base, env: ["CNI_ARGS": "MAC=nope"], code: 4, message: "MAC"),
            Case(what: "CHECK without prevResult", conf: base, env: ["CNI_COMMAND": "CHECK"], code: 7, message: "prevResult"),
            Case(what: "CHECK on 0.3.1", conf: with(["cniVersion": "0.3.1"]), env: ["CNI_COMMAND": "CHECK"], code: 1, message: "CHECK"),
            Case(what: "GC on 1.0.0", conf: with(["cniVersion": "1.0.0"]), env: ["CNI_COMMAND": "GC"], code: 1, message: "GC"),
        ]
        let before = hostSnapshot(pf)
        for c in cases {
            var env: [String: String] = ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "bad1", "CNI_NETNS": ns.path,
                                         "CNI_IFNAME": "net1", "CNI_PATH": referencePlugins, "PATH": "/usr/bin:/bin"]
            for (k, v) in c.env { env[k] = v }
            let r = sh([vfwire], stdin: json(c.conf), env: env)
            let out = (try? JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]) ?? [:]
            XCTAssertEqual(r.status, 1, "\(c.what): exit status")
            if c.code >= 0 {
                XCTAssertEqual(out["code"] as? Int, c.code, "\(c.what): \(r.out)")
            } else {
                XCTAssertNotNil(out["code"] as? Int, "\(c.what): \(r.out)")
            }
            XCTAssertNotNil(out["msg"] as? String, "\(c.what): an error has a msg")
            if let m = c.message {
                XCTAssertTrue((out["msg"] as? String ?? "").contains(m), "\(c.what): msg \(out["msg"] ?? "") lacks \(m)")
            }
            XCTAssertNil(ns.link("net1"), "\(c.what): nothing left in the container")
            XCTAssertEqual(hostSnapshot(pf), before, "\(c.what): host unchanged")
        }
        XCTAssertEqual(sh([vfwire], stdin: "{not json", env: ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "x",
            "CNI_NETNS": ns.path, "CNI_IFNAME": "net1"]).out.contains("\"code\":6"), true, "garbage stdin is a decode error")
        XCTAssertEqual(sh([vfwire], stdin: "[1]", env: ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "x",
            "CNI_NETNS": ns.path, "CNI_IFNAME": "net1"]).out.contains("\"code\":6"), true, "a non-object is a decode error")
    }

    func testInterfaceNameTakenInTheContainer() throws {
        let pf = try SimPF(vfs: 1)
        let ns = Netns()
        let veth = ns.exec(["ip", "link", "add", "net1", "type", "veth", "peer", "name", "net1p"])
        XCTAssertEqual(veth.status, 0, "net1 taken in the container: \(veth.err)")
        let before = hostSnapshot(pf)
        let r = cni("ADD", json(["cniVersion": "1.0.0", "name": "t", "type": "vfwire", "pf": pf.name, "vlan": 9]), netns: ns.path)
        XCTAssertEqual(r.code, 102, r.out)
        XCTAssertEqual(hostSnapshot(pf), before)
    }

    func testVFInUseIsNotTakenAndPoolSkipsIt() throws {
        let pf = try SimPF(vfs: 2)
        let a = Netns(), b = Netns()
        let byID = json(["cniVersion": "1.0.0", "name": "t", "type": "vfwire", "deviceID": pf.vfPCI(0)])
        XCTAssertEqual(cni("ADD", byID, containerID: "a", netns: a.path).status, 0)
        let pool = json(["cniVersion": "1.0.0", "name": "t2", "type": "vfwire", "pf": pf.name])
        let r = cni("ADD", pool, containerID: "b", netns: b.path)
        XCTAssertEqual(r.status, 0, r.out)
        XCTAssertEqual((r.json["interfaces"] as? [[String: Any]])?.first?["pciID"] as? String, nil, "1.0.0 has no pciID")
        XCTAssertEqual(pf.table()[1]?["netdev"], "-", "the pool skipped the VF in use and took VF 1")
        XCTAssertEqual(cni("DEL", pool, containerID: "b", netns: b.path).status, 0)
        XCTAssertEqual(cni("DEL", byID, containerID: "a", netns: a.path).status, 0)
    }
}

// swift-tools-version: 6.0
import PackageDescription

// The parsers of the main package, built with libFuzzer (fuzz/run.sh). Sources/ holds links
// to the main package's modules, so the code fuzzed is the code shipped; only Fuzz is ours.
let package = Package(
    name: "vfwire-fuzz",
    dependencies: [.package(url: "https://github.com/jpsim/Yams", from: "5.0.1")],
    targets: [
        .systemLibrary(name: "CNetlink", pkgConfig: "libnl-route-3.0"),
        .target(name: "VFWireTypes"),
        .target(name: "FileSystem"),
        .target(name: "JSON"),
        .target(name: "CNIProtocol", dependencies: ["JSON", "VFWireTypes"]),
        .target(name: "Netconf", dependencies: ["JSON", "CNIProtocol", "VFWireTypes"]),
        .target(name: "Namespaces", dependencies: ["CNetlink", "VFWireTypes"]),
        .systemLibrary(name: "CShaping", pkgConfig: "libnl-route-3.0"),
        .target(name: "Shaping", dependencies: ["CShaping", "Namespaces"]),
        .target(name: "Netlink", dependencies: ["CNetlink", "VFWireTypes"]),
        .target(name: "Sysfs", dependencies: ["FileSystem", "VFWireTypes"]),
        .target(name: "PFDriver", dependencies: ["FileSystem", "Sysfs", "Netlink", "VFWireTypes"]),
        .target(name: "VFState", dependencies: ["JSON", "FileSystem", "Sysfs", "Namespaces", "VFWireTypes"]),
        .target(name: "Subprocess", dependencies: ["JSON", "CNIProtocol"]),
        .target(name: "CNIClient", dependencies: ["JSON", "CNIProtocol", "FileSystem", "Subprocess", "VFWireTypes"]),
        .target(name: "LinkKinds", dependencies: ["FileSystem", "Subprocess", "VFWireTypes"]),
        .target(name: "Topology", dependencies: ["JSON", "CNIClient", "CNIProtocol", "FileSystem", "LinkKinds", "Namespaces", "Netlink", "PFDriver", "Shaping", "Subprocess",
                                                  "Sysfs", "VFState", "VFWireTypes", .product(name: "Yams", package: "Yams")],
                swiftSettings: [.swiftLanguageMode(.v5)]),
        .target(name: "OCIHook", dependencies: ["JSON", "CNIClient", "CNIProtocol", "FileSystem", "Namespaces", "Netconf", "Sysfs", "VFWireTypes"]),
        // Library mode, so that the entry SwiftPM links as main is Fuzz.swift's, which hands
        // over to libFuzzer's driver.
        .executableTarget(name: "Fuzz", dependencies: ["CNIProtocol", "Netconf", "OCIHook", "Topology", "VFState"],
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
    ]
)

// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "vfwire",
    products: [
        .executable(name: "vfwire", targets: ["vfwire"]),
        .executable(name: "vfwirectl", targets: ["vfwirectl"]),
        .executable(name: "vfwire-hook", targets: ["vfwire-hook"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        .systemLibrary(name: "CNetlink", pkgConfig: "libnl-route-3.0",
                       providers: [.apt(["libnl-3-dev", "libnl-route-3-dev"])]),
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        .target(name: "Sandbox", dependencies: ["CSeccomp"]),
        .systemLibrary(name: "CProbe"),
        .target(name: "Probe", dependencies: ["CProbe", "Namespaces"]),
        .systemLibrary(name: "CShaping", pkgConfig: "libnl-route-3.0", providers: [.apt(["libnl-3-dev", "libnl-route-3-dev"])]),
        .target(name: "Shaping", dependencies: ["CShaping", "Namespaces"]),
        .target(name: "LinkKinds", dependencies: ["FileSystem", "Subprocess", "VFWireTypes"]),
        .target(name: "VFWireTypes"),
        .target(name: "FileSystem"),
        .target(name: "JSON"),
        .target(name: "CNIProtocol", dependencies: ["JSON", "VFWireTypes"]),
        .target(name: "Netconf", dependencies: ["JSON", "CNIProtocol", "VFWireTypes"]),
        .target(name: "Namespaces", dependencies: ["CNetlink", "VFWireTypes"]),
        .target(name: "Netlink", dependencies: ["CNetlink", "VFWireTypes"]),
        .target(name: "Sysfs", dependencies: ["FileSystem", "VFWireTypes"]),
        .target(name: "PFDriver", dependencies: ["FileSystem", "Sysfs", "Netlink", "VFWireTypes"]),
        .target(name: "EmulatedNIC", dependencies: ["JSON", "FileSystem", "PFDriver", "Sysfs", "Netlink", "VFWireTypes"]),
        .target(name: "VFState", dependencies: ["JSON", "FileSystem", "Sysfs", "Namespaces", "VFWireTypes"]),
        .target(name: "Subprocess", dependencies: ["JSON", "CNIProtocol"]),
        .target(name: "IPAM", dependencies: ["JSON", "CNIProtocol", "Subprocess", "VFWireTypes"]),
        .target(name: "VFWirePlugin", dependencies: [
            "JSON", "CNIProtocol", "FileSystem", "Netconf", "Sysfs", "Netlink", "Namespaces", "PFDriver",
            "Subprocess", "VFState", "IPAM", "VFWireTypes",
        ]),
        .target(name: "CNIClient", dependencies: ["JSON", "CNIProtocol", "FileSystem", "Subprocess", "VFWireTypes"]),
        // Attaches link ends from concurrentPerform through a lock; Swift 5 mode spares that
        // the Sendable annotations it would not make any safer.
        .target(name: "Topology", dependencies: ["JSON", "CNIClient", "CNIProtocol", "FileSystem", "LinkKinds", "Namespaces", "Netlink", "PFDriver", "Shaping", "Subprocess",
                                                  "Sysfs", "VFState", "VFWireTypes", .product(name: "Yams", package: "Yams")],
                swiftSettings: [.swiftLanguageMode(.v5)]),
        .target(name: "OCIHook", dependencies: ["JSON", "CNIClient", "CNIProtocol", "FileSystem", "Namespaces", "Netconf", "Sysfs", "VFWireTypes"]),
        .executableTarget(name: "vfwire", dependencies: ["CNIProtocol", "EmulatedNIC", "FileSystem", "PFDriver", "Sandbox", "VFWirePlugin"]),
        .executableTarget(name: "vfwire-hook", dependencies: ["CNIClient", "CNIProtocol", "FileSystem", "OCIHook", "Sandbox", "VFWireTypes"]),
        .executableTarget(name: "vfwirectl", dependencies: ["EmulatedNIC", "FileSystem", "LinkKinds", "Netconf", "PFDriver", "Probe", "Sandbox", "Shaping", "Sysfs", "Topology", "VFState", "VFWireTypes"]),
        .testTarget(name: "VFWireUnitTests", dependencies: [
            "JSON", "CNIClient", "CNIProtocol", "FileSystem", "IPAM", "LinkKinds", "Namespaces", "Netconf", "Netlink", "OCIHook", "PFDriver", "Probe", "Shaping", "Sysfs", "Topology",
            "VFState", "VFWirePlugin", "VFWireTypes",
        ]),
        // Tests drive processes from concurrentPerform; Swift 5 mode keeps that free of
        // Sendable ceremony that would protect nothing there.
        .testTarget(name: "VFWireIntegrationTests", dependencies: ["vfwire", "vfwirectl", "vfwire-hook"],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
    ]
)

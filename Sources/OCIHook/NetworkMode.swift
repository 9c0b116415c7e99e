import CNIClient
import CNIProtocol
import JSON
import Netconf
import VFWireTypes

extension NetworkList {
    /// Whether the list's vfwire plugin hands out VFs on vfio-pci. The plugin's own config type
    /// decides, from the entry as the plugin will receive it.
    var isVFIO: Bool {
        plugins.contains { p in
            guard p["type"]?.stringValue == "vfwire" else { return false }
            var conf = p
            conf["name"] = .string(name)
            conf["cniVersion"] = .string(cniVersion.rawValue)
            return (try? NetConf(try NetconfObject(JSONValue.object(conf).serialized), args: try CNIArgs("")))?.mode == .vfio
        }
    }
}

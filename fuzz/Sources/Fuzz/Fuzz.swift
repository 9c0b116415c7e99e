import CNIProtocol
import Netconf
import OCIHook
import Topology
import VFState

let noArgs = try! CNIArgs("")

@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
               _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32) -> Int32

/// SwiftPM links an executable's main under this name.
@_cdecl("Fuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var c = argc
    var v = argv
    return runDriver(&c, &v, fuzz)
}

/// One libFuzzer entry for the four parsers that read what others wrote: the first byte picks
/// the parser, so one corpus and one run cover them all and inputs can move between them.
/// Any thrown error is a refusal, which is fine; a crash, a hang or a leak is what is sought.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 4 {
    case 0:
        if let o = try? NetconfObject(body) { _ = try? NetConf(o, args: noArgs) }
    case 1: _ = try? AllocationRecord.parse(body)
    case 2: _ = try? Topology.parse(String(decoding: body, as: UTF8.self))
    default: _ = try? OCIState.parse(body)
    }
    return 0
}

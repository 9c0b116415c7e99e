import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory per test, removed afterwards; nothing outside it is touched.
func scratchDirectory(_ test: XCTestCase) throws -> String {
    var template = Array("/tmp/vfwire-unit-XXXXXX".utf8CString)
    guard let p = mkdtemp(&template) else { throw XCTSkip("cannot make a temp directory") }
    let dir = String(cString: p)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
    return dir
}

/// An executable shell script at `path`.
func writeScript(_ path: String, _ body: String) throws {
    try ("#!/bin/sh\n" + body).write(toFile: path, atomically: true, encoding: .utf8)
    XCTAssertEqual(chmod(path, 0o755), 0)
}

func readJSON(_ path: String) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
}

import XCTest
import Shaping

final class ImpairmentTests: XCTestCase {
    func testContainerlabNamesAndUnits() throws {
        let i = try Impairment(flags: ["--delay", "1ms", "--jitter", "100us", "--loss", "10%", "--rate", "100mbit", "--corruption", "0.1"])
        XCTAssertEqual(i.delayUs, 1000)
        XCTAssertEqual(i.jitterUs, 100)
        XCTAssertEqual(i.lossPct, 10)
        XCTAssertEqual(i.rateKbit, 100_000)
        XCTAssertEqual(i.corruptionPct, 0.1)
        XCTAssertEqual(try Impairment(flags: ["--rate", "5000"]).rateKbit, 5000, "a bare rate is kbit/s, as containerlab's")
        XCTAssertEqual(try Impairment(flags: ["--delay", "1.5s"]).delayUs, 1_500_000)
        XCTAssertEqual(try Impairment(flags: ["--rate", "1gbit"]).rateKbit, 1_000_000)
    }

    func testRateAloneNeedsNoNetem() throws {
        XCTAssertFalse(try Impairment(flags: ["--rate", "100"]).needsNetem)
        XCTAssertTrue(try Impairment(flags: ["--loss", "1"]).needsNetem)
        XCTAssertTrue(try Impairment(flags: []).isNone, "no flags: clear")
    }

    func testShowPrintsWhatSetTakes() throws {
        let flags = ["--delay", "2ms", "--jitter", "250us", "--loss", "12.5%", "--rate", "1000", "--corruption", "0.125%"]
        let i = try Impairment(flags: flags)
        XCTAssertEqual(i.flags, flags.joined(separator: " "))
        XCTAssertEqual(try Impairment(flags: i.flags.split(separator: " ").map(String.init)), i)
    }

    func testABareZeroIsNoneAsInGoAndErrorsUseTheirLabel() throws {
        XCTAssertTrue(try Impairment(flags: ["--delay", "0", "--loss", "0"]).isNone, "Go's ParseDuration takes a bare 0")
        var i = Impairment()
        XCTAssertThrowsError(try i.set("rate", "fast", label: "rate")) { e in
            XCTAssertEqual("\(e)", "rate fast: not a rate in kbit/s such as 100000 or 100mbit", "a topology key is named as the file names it")
        }
        try i.set("corruption", "2", label: "corruption")
        XCTAssertEqual(i.settings.map { "\($0.name)=\($0.value)" }, ["corruption=2%"])
    }

    func testBadValuesAreRefused() {
        for bad in [["--loss", "101"], ["--loss", "-1"], ["--delay", "1"], ["--delay", "ms"], ["--rate", "fast"],
                    ["--jitter", "1ms"], ["--delay"], ["--duplicate", "1"],
                    // Found by the fuzzer: past UInt64, the conversion trapped.
                    ["--rate", "1" + String(repeating: "8", count: 40) + "mbit"], ["--rate", "inf"]] {
            XCTAssertThrowsError(try Impairment(flags: bad), "\(bad)")
        }
    }
}

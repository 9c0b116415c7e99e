import XCTest
import LinkKinds

final class LinkKindUnitTests: XCTestCase {
    func testLinkEnds() {
        XCTAssertEqual(LinkEnd("ns1:eth1:198.18.0.1/30"), LinkEnd("ns1:eth1:198.18.0.1/30"))
        XCTAssertNil(LinkEnd("ns1:eth1")?.cidr)
        for bad in ["ns1", ":eth1", "ns1:", "ns1:eth1:198.18.0.1", "a/b:eth1", "ns1:this-name-is-too-long0"] { XCTAssertNil(LinkEnd(bad), bad) }
    }

    func testTheMiddleIsNamedByBothEndsInEitherOrder() {
        let a = LinkEnd("n1:e1")!, b = LinkEnd("n2:e1")!
        XCTAssertEqual(SoftwareLink.middle(a, b), SoftwareLink.middle(b, a), "del may name the ends the other way round")
        XCTAssertNotEqual(SoftwareLink.middle(a, b), SoftwareLink.middle(a, LinkEnd("n2:e2")!))
        XCTAssertLessThanOrEqual(SoftwareLink.middle(a, b).count, 17)
    }
}

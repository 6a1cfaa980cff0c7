import CoreFormats
import Foundation
import Testing

@Suite("Shared text formats: one timestamp parser, one hex decoder, UUID text")
struct CoreFormatsTests {
    @Test(
        "RFC 3339 date-times: what the API accepts",
        arguments: [
            ("2026-11-27T09:30:00Z", 1_795_771_800.0), ("2026-11-27t09:30:00z", 1_795_771_800.0),
            ("2026-11-27T10:30:00+01:00", 1_795_771_800.0), ("2026-11-27T09:30:00.25Z", 1_795_771_800.25),
            ("2024-02-29T00:00:00Z", 1_709_164_800.0),
        ])
    func accepted(_ text: String, _ seconds: Double) {
        #expect(Timestamp.parse(text, rfc3339: true)?.timeIntervalSince1970 == seconds)
    }

    @Test(
        "RFC 3339 date-times: what it refuses",
        arguments: [
            "2026-11-27 09:30:00Z", "2026-11-27T09:30:00", "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-27T24:00:00Z", "2026-11-27T09:60:00Z", "2026-11-27T09:30:00+0100", "2026-11-27T09:30:00.Z",
            "12026-11-27T09:30:00Z",
            "2026-11-27", "infinity", "",
        ])
    func refused(_ text: String) {
        #expect(Timestamp.parse(text, rfc3339: true) == nil)
    }

    @Test("PostgreSQL's ISO output reads as before: space, optional zone, offsets with seconds, infinity")
    func postgres() {
        #expect(Timestamp.parse("2026-11-27 09:30:00+00")?.timeIntervalSince1970 == 1_795_771_800)
        #expect(Timestamp.parse("2026-11-27 10:30:00.5+01:00:00")?.timeIntervalSince1970 == 1_795_771_800.5)
        #expect(Timestamp.parse("2026-11-27")?.timeIntervalSince1970 == 1_795_737_600)
        #expect(Timestamp.parse("infinity") == .distantFuture && Timestamp.parse("-infinity") == .distantPast)
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1_795_771_800.25)) == "2026-11-27T09:30:00.250000Z")
    }

    @Test("hex: pairs of digits either case, and nothing else")
    func hex() {
        func decode(_ text: String) -> [UInt8]? { Array(text.utf8).withUnsafeBytes { Hex.decode($0) } }
        #expect(decode("00ff7A") == [0, 255, 122])
        #expect(decode("0") == nil && decode("zz") == nil && decode("") == [])
        var out: [UInt8] = []
        Hex.encode([0, 255, 122], into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "00ff7a")
    }

    @Test("UUIDs: lower-case text both ways, random ones are version 4 and differ")
    func uuids() {
        let id = UUID(uuidString: "3F2504E0-4F89-11D3-9A0C-0305E82C3301")!
        #expect(id.lowercasedString == "3f2504e0-4f89-11d3-9a0c-0305e82c3301")
        #expect(UUID(hyphenated: "3F2504E0-4f89-11d3-9a0c-0305e82c3301") == id)
        #expect(
            UUID(hyphenated: "3f2504e0-4f89-11d3-9a0c-0305e82c330") == nil
                && UUID(hyphenated: "3f2504e0x4f89-11d3-9a0c-0305e82c3301") == nil)
        let ids = (0..<1000).map { _ in UUID.random() }
        #expect(Set(ids).count == 1000)
        #expect(
            ids.allSatisfy {
                $0.lowercasedString[$0.lowercasedString.index($0.lowercasedString.startIndex, offsetBy: 14)] == "4"
            })
        #expect(
            ids.allSatisfy {
                "89ab".contains(
                    $0.lowercasedString[$0.lowercasedString.index($0.lowercasedString.startIndex, offsetBy: 19)])
            })
    }

    @Test("a dose as a clinician writes it: whole numbers without .0, fractions as they are, huge ones without a trap")
    func plainNumbers() {
        #expect(100.0.plainText == "100")
        #expect(37.5.plainText == "37.5")
        #expect(0.0.plainText == "0")
        #expect((-2.0).plainText == "-2")
        #expect(1e20.plainText == "1e+20")
    }
}

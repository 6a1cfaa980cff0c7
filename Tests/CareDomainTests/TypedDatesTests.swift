import CareDomain
import Foundation
import Testing

/// What a clinician types for a date or a due time, on the team's calendar (docs/time-zones.md).
@Suite("Typed dates on the team's calendar")
struct TypedDatesTests {
    static func instant(_ text: String) -> Date { try! Date(text, strategy: .iso8601) }
    static func day(_ text: String) -> Date { instant(text + "T00:00:00Z") }

    struct Due: Sendable, CustomTestStringConvertible {
        var name: String
        var zone: String
        var now: String
        var typed: String
        var expected: String
        var testDescription: String { name }
    }

    @Test(
        "due times: the end of the team's day, the same time of day days on, hours as hours",
        arguments: [
            // 21:00 on Saturday 31 October in New York (EDT, UTC-4); the clocks go back at 02:00 on Sunday.
            Due(
                name: "tomorrow across the change from summer time: 23:59 EST on Sunday", zone: "America/New_York",
                now: "2026-11-01T01:00:00Z", typed: "tomorrow", expected: "2026-11-02T04:59:00Z"),
            Due(
                name: "today in New York is still Saturday (UTC is on Sunday)", zone: "America/New_York",
                now: "2026-11-01T01:00:00Z", typed: "today", expected: "2026-11-01T03:59:00Z"),
            Due(
                name: "+2d across the change is 21:00 on Monday, 49 hours on", zone: "America/New_York",
                now: "2026-11-01T01:00:00Z", typed: "+2d", expected: "2026-11-03T02:00:00Z"),
            Due(
                name: "+24h is 24 hours, whatever the clocks do", zone: "America/New_York",
                now: "2026-11-01T01:00:00Z", typed: "+24h", expected: "2026-11-02T01:00:00Z"),
            Due(
                name: "a weekday is the next one, at its end: Monday 23:59 EST", zone: "America/New_York",
                now: "2026-11-01T01:00:00Z", typed: "monday", expected: "2026-11-03T04:59:00Z"),
            // 21:00 on Monday 30 November in California (PST, UTC-8): UTC is already on Tuesday.
            Due(
                name: "tomorrow typed at 9 pm in California is Tuesday there", zone: "America/Los_Angeles",
                now: "2026-12-01T05:00:00Z", typed: "tomorrow", expected: "2026-12-02T07:59:00Z"),
            Due(
                name: "the same words on a UTC team are Wednesday", zone: "UTC", now: "2026-12-01T05:00:00Z",
                typed: "tomorrow", expected: "2026-12-02T23:59:00Z"),
            // 08:00 on Tuesday 1 December in Tokyo (UTC+9): UTC is still on Monday.
            Due(
                name: "today at 8 am in Tokyo ends at 23:59 there", zone: "Asia/Tokyo", now: "2026-11-30T23:00:00Z",
                typed: "today", expected: "2026-12-01T14:59:00Z"),
            // Noon on Saturday 27 March 2027 in London; the clocks go forward at 01:00 on Sunday.
            Due(
                name: "+1d into summer time is noon BST, 23 hours on", zone: "Europe/London",
                now: "2027-03-27T12:00:00Z", typed: "+1d", expected: "2027-03-28T11:00:00Z"),
        ])
    func due(_ example: Due) {
        let calendar = LocalCalendar(identifier: example.zone)
        #expect(
            TypedDates.due(example.typed, now: Self.instant(example.now), calendar: calendar)
                == Self.instant(example.expected))
    }

    @Test("a date typed as due (YYYY-MM-DD) is the end of that day on the team's calendar, across a change too")
    func dateAsDue() {
        let newYork = LocalCalendar(identifier: "America/New_York")
        // Sunday 1 November 2026 is 25 hours long in New York; it ends at 04:59 UTC on Monday.
        #expect(TypedDates.endOfDay(Self.day("2026-11-01"), newYork) == Self.instant("2026-11-02T04:59:00Z"))
        #expect(TypedDates.endOfDay(Self.day("2026-10-31"), newYork) == Self.instant("2026-11-01T03:59:00Z"))
        let tokyo = LocalCalendar(identifier: "Asia/Tokyo")
        #expect(TypedDates.endOfDay(Self.day("2026-12-01"), tokyo) == Self.instant("2026-12-01T14:59:00Z"))
    }

    @Test(
        "days: today, yesterday, -3d and the last weekday are the team's, east and west of UTC",
        arguments: [
            ("Asia/Tokyo", "today", "2026-12-01"), ("Asia/Tokyo", "yesterday", "2026-11-30"),
            ("Asia/Tokyo", "-3d", "2026-11-28"), ("Asia/Tokyo", "tuesday", "2026-12-01"),
            ("Asia/Tokyo", "monday", "2026-11-30"), ("UTC", "today", "2026-11-30"),
            ("America/Los_Angeles", "today", "2026-11-30"), ("America/Los_Angeles", "tuesday", "2026-11-24"),
            ("Asia/Tokyo", "2026-12-01", nil), ("Asia/Tokyo", "soon", nil),
        ] as [(String, String, String?)])
    func days(_ zone: String, _ typed: String, _ expected: String?) {
        // 23:00 UTC on Monday 30 November: 08:00 on Tuesday in Tokyo, 15:00 on Monday in California.
        let now = Self.instant("2026-11-30T23:00:00Z")
        #expect(
            TypedDates.day(typed, now: now, calendar: LocalCalendar(identifier: zone)) == expected.map(Self.day),
            "\(typed) in \(zone)")
    }

    struct Taken: Sendable, CustomTestStringConvertible {
        var name: String
        var zone: String
        var typed: String
        /// The instant expected, or a refusal.
        var expected: Result<String, TypedDates.TakenRefusal>
        var testDescription: String { name }
    }

    @Test(
        "when a score was taken: a day is noon there, today is now, a local minute is the team's, never the future",
        arguments: [
            // now: 23:00 UTC on Monday 30 November, 08:00 on Tuesday 1 December in Tokyo (UTC+9).
            Taken(name: "today is now", zone: "Asia/Tokyo", typed: "today", expected: .success("2026-11-30T23:00:00Z")),
            Taken(
                name: "yesterday in Tokyo is Monday there, at noon (03:00 UTC)", zone: "Asia/Tokyo",
                typed: "yesterday", expected: .success("2026-11-30T03:00:00Z")),
            Taken(
                name: "yesterday on a UTC team is Sunday at noon", zone: "UTC", typed: "yesterday",
                expected: .success("2026-11-29T12:00:00Z")),
            Taken(
                name: "-3d is three days back on the team's calendar", zone: "Asia/Tokyo", typed: "-3d",
                expected: .success("2026-11-28T03:00:00Z")),
            Taken(
                name: "a weekday is the last one, at noon", zone: "Asia/Tokyo", typed: "saturday",
                expected: .success("2026-11-28T03:00:00Z")),
            Taken(
                name: "a date that is today there is now", zone: "Asia/Tokyo", typed: "2026-12-01",
                expected: .success("2026-11-30T23:00:00Z")),
            Taken(
                name: "a date is noon that day there", zone: "America/Los_Angeles", typed: "2026-11-20",
                expected: .success("2026-11-20T20:00:00Z")),
            Taken(
                name: "a local minute is on the team's clock", zone: "Asia/Tokyo", typed: "2026-12-01 07:30",
                expected: .success("2026-11-30T22:30:00Z")),
            Taken(
                name: "a local minute in New York's repeated hour is its first (EDT)", zone: "America/New_York",
                typed: "2026-11-01 01:30", expected: .success("2026-11-01T05:30:00Z")),
            Taken(
                name: "an RFC 3339 time is taken as written", zone: "Asia/Tokyo", typed: "2026-11-29T10:15:00-05:00",
                expected: .success("2026-11-29T15:15:00Z")),
            Taken(
                name: "surrounding spaces are ignored", zone: "UTC", typed: "  yesterday ",
                expected: .success("2026-11-29T12:00:00Z")),
            Taken(
                name: "half a minute ahead (a clock behind the server's) is now", zone: "UTC",
                typed: "2026-11-30T23:00:30Z", expected: .success("2026-11-30T23:00:00Z")),
            Taken(
                name: "a local minute still to come is refused with the instant", zone: "Asia/Tokyo",
                typed: "2026-12-01 09:00",
                expected: .failure(.future(TypedDatesTests.instant("2026-12-01T00:00:00Z")))),
            Taken(
                name: "tomorrow is refused as the future", zone: "Asia/Tokyo", typed: "tomorrow",
                expected: .failure(.future(nil))),
            Taken(name: "+2d is refused as the future", zone: "UTC", typed: "+2d", expected: .failure(.future(nil))),
            Taken(
                name: "a later date is refused with its noon", zone: "UTC", typed: "2026-12-05",
                expected: .failure(.future(TypedDatesTests.instant("2026-12-05T12:00:00Z")))),
            Taken(name: "words that name no time", zone: "UTC", typed: "last week", expected: .failure(.notATime)),
            Taken(name: "a day that does not exist", zone: "UTC", typed: "2026-02-30", expected: .failure(.notATime)),
            Taken(name: "an hour past 23", zone: "UTC", typed: "2026-11-20 24:00", expected: .failure(.notATime)),
        ])
    func taken(_ example: Taken) {
        let now = Self.instant("2026-11-30T23:00:00Z")
        let calendar = LocalCalendar(identifier: example.zone)
        let result = Result { () throws(TypedDates.TakenRefusal) in
            try TypedDates.taken(example.typed, now: now, calendar: calendar)
        }
        #expect(result == example.expected.map(Self.instant))
    }

    @Test("a calendar's today, the midnight a day begins, and weeks that hold a change")
    func calendar() {
        let newYork = LocalCalendar(identifier: "America/New_York")
        #expect(newYork.today(at: Self.instant("2026-11-30T04:59:00Z")) == Self.day("2026-11-29"))
        #expect(newYork.today(at: Self.instant("2026-11-30T05:00:00Z")) == Self.day("2026-11-30"))
        #expect(newYork.midnight(of: Self.day("2026-11-01")) == Self.instant("2026-11-01T04:00:00Z"))
        #expect(newYork.midnight(of: Self.day("2026-11-02")) == Self.instant("2026-11-02T05:00:00Z"))
        #expect(newYork.dayText(Self.instant("2026-11-01T02:00:00Z")) == "2026-10-31")
        #expect(LocalCalendar(identifier: "Not/AZone") == .utc)
        #expect(LocalCalendar(identifier: "UTC").name == "UTC")
    }

    @Test(
        "a zone the database does not know is refused with close matches: part of a name, or a slip of a letter or two",
        arguments: [
            ("new york", "America/New_York"), ("Europe/Londn", "Europe/London"), ("Asia/Tokio", "Asia/Tokyo"),
            ("america/chicgo", "America/Chicago"),
        ])
    func unknownZones(_ typed: String, _ expected: String) {
        do {
            _ = try TeamTimeZone.validate(typed)
            Issue.record("\(typed) was accepted")
        } catch {
            #expect(error.accepted.contains(expected), "\(typed): \(error.accepted)")
            #expect(error.accepted.count <= 5)
        }
        #expect(throws: InvalidValue.self) { try TeamTimeZone.validate("Mars/Olympus_Mons") }
        #expect((try? TeamTimeZone.validate("Europe/London")) == "Europe/London")
    }
}

import CareDomain
import CareStore
import Foundation
import PQ
import Testing
import TestSupport

/// The report's week on the team's calendar (docs/time-zones.md): Monday 00:00 to Monday 00:00
/// in the team's zone, a daylight-saving week 167 or 169 hours long.
@Suite("Weeks in a team's time zone")
struct TimeZoneWeekTests {
    static let newYork = TimeZone(identifier: "America/New_York")!
    static let tokyo = TimeZone(identifier: "Asia/Tokyo")!
    static let utc = TimeZone(identifier: "UTC")!

    static func instant(_ text: String) -> Date {
        ISO8601DateFormatter().date(from: text)!
    }

    @Test(
        "2026-W48 in New York runs from Monday 05:00 UTC to the next Monday 05:00 UTC; in Tokyo from Sunday 15:00 UTC")
    func bounds() throws {
        let week = try #require(ISOWeek("2026-W48"))
        #expect(week.start(in: Self.newYork) == Self.instant("2026-11-23T05:00:00Z"))
        #expect(week.end(in: Self.newYork) == Self.instant("2026-11-30T05:00:00Z"))
        #expect(week.start(in: Self.tokyo) == Self.instant("2026-11-22T15:00:00Z"))
        #expect(week.start(in: Self.utc) == week.start)
    }

    @Test("a week with a daylight-saving change: 169 hours when the clocks go back, 167 when they go forward")
    func daylightSaving() throws {
        let back = try #require(ISOWeek("2026-W44"))  // 2026-11-01: New York falls back
        #expect(back.end(in: Self.newYork).timeIntervalSince(back.start(in: Self.newYork)) == 169 * 3600)
        let forward = try #require(ISOWeek("2026-W10"))  // 2026-03-08: New York springs forward
        #expect(forward.end(in: Self.newYork).timeIntervalSince(forward.start(in: Self.newYork)) == 167 * 3600)
        #expect(forward.end(in: Self.utc).timeIntervalSince(forward.start(in: Self.utc)) == 168 * 3600)
    }

    @Test(
        "late Sunday evening in New York is still the ending week there (the next one in UTC); early Monday in Tokyo is the new one"
    )
    func edges() {
        let sundayNight = Self.instant("2026-11-30T03:30:00Z")  // Sunday 22:30 in New York
        #expect(ISOWeek(containing: sundayNight, in: Self.newYork).description == "2026-W48")
        #expect(ISOWeek(containing: sundayNight, in: Self.utc).description == "2026-W49")
        let mondayMorning = Self.instant("2026-11-29T22:00:00Z")  // Monday 07:00 in Tokyo
        #expect(ISOWeek(containing: mondayMorning, in: Self.tokyo).description == "2026-W49")
        #expect(ISOWeek(containing: mondayMorning, in: Self.utc).description == "2026-W48")
    }

    @Test(
        "the weekly review counts a PHQ-9 taken at 22:30 on Sunday in New York in the week that is ending, for a New York team; a UTC team counts it in the next"
    )
    func reviewWeek() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let sundayNight = Self.instant("2026-11-30T03:30:00Z")
            _ = try await clinic.store.recordMeasurement(
                patientID: clinic.patient, score: try Score(.phq9, total: 14), takenAt: sundayNight,
                by: .system(actingFor: clinic.psychiatrist))
            let w48 = try #require(ISOWeek("2026-W48"))
            let w49 = try #require(ISOWeek("2026-W49"))
            func contacts(_ week: ISOWeek) async throws -> Int {
                let review = try await clinic.store.weeklyReview(
                    teamID: clinic.team, week: week, now: Self.instant("2026-12-10T00:00:00Z"), by: .system())
                return review.patients.first { $0.id == clinic.patient }?.contactsThisWeek ?? -1
            }
            #expect(try await contacts(w48) == 0, "UTC: Monday 03:30, the next week")
            #expect(try await contacts(w49) == 1)
            _ = try await clinic.store.setTimeZone(teamID: clinic.team, "America/New_York", by: .system())
            #expect(try await contacts(w48) == 1, "New York: Sunday 22:30, the week that is ending")
            #expect(try await contacts(w49) == 0)
            let review = try await clinic.store.weeklyReview(teamID: clinic.team, week: w48, by: .system())
            #expect(review.timeZone == "America/New_York" && review.weekStart == w48.start(in: Self.newYork))
        }
    }
}

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
        """
        late Sunday evening in New York is still the ending week there (the next one in UTC); early Monday in Tokyo is \
        the new one
        """
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
        """
        the weekly review counts a PHQ-9 taken at 22:30 on Sunday in New York in the week that is ending, for a New \
        York team; a UTC team counts it in the next
        """
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

    @Test(
        """
        the report on a New York team: a patient enrolled on the week's Monday is new that week and one enrolled on \
        the next Monday is not yet on the caseload; the no-contact line names the team's day
        """
    )
    func enrolmentOnTheTeamsCalendar() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            _ = try await clinic.store.setTimeZone(teamID: clinic.team, "America/New_York", by: .system())
            let monday = try await clinic.store.createPatient(
                teamID: clinic.team, mrn: "TZ-MON", displayName: "Monday Enrolled",
                enrolledOn: Self.instant("2026-11-23T00:00:00Z"), by: .system())
            let nextMonday = try await clinic.store.createPatient(
                teamID: clinic.team, mrn: "TZ-NEXT", displayName: "Next Monday",
                enrolledOn: Self.instant("2026-11-30T00:00:00Z"), by: .system())
            let w48 = try #require(ISOWeek("2026-W48"))
            let review = try await clinic.store.weeklyReview(
                teamID: clinic.team, week: w48, now: Self.instant("2026-12-10T00:00:00Z"), by: .system())
            let row = try #require(review.patients.first { $0.id == monday })
            // Midnight on 23 November in New York is 05:00 UTC: the UTC reading put it before the week.
            #expect(row.assessment.isNew && row.assessment.weeksInTreatment == 1)
            #expect(row.assessment.reasons.map(\.text).contains("enrolled 2026-11-23"))
            #expect(!review.patients.contains { $0.id == nextMonday }, "enrolled after the week ended in New York")
        }
    }

    @Test(
        """
        a trial's start, dose change and stop, an enrolment and a date of birth are refused after today on the team's \
        calendar, east and west of UTC
        """
    )
    func recordDatesOnTheTeamsCalendar() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let psychiatrist = Caller.system(actingFor: clinic.psychiatrist)
            // UTC+14 and UTC-11: at any moment one of them is on another date than UTC.
            for zone in ["Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"] {
                _ = try await clinic.store.setTimeZone(teamID: clinic.team, zone, by: .system())
                let calendar = LocalCalendar(identifier: zone)
                let today = calendar.today(at: Date())
                let tomorrow = calendar.day(today, adding: 1)
                do {
                    _ = try await clinic.store.startTrial(
                        patientID: clinic.patient, kind: .psychotherapy, drug: nil, dailyDoseMg: nil,
                        startedOn: tomorrow, therapy: "CBT", by: psychiatrist)
                    Issue.record("\(zone): a start on the team's tomorrow was accepted")
                } catch StoreError.invalidValue(let refusal) {
                    #expect(refusal.field == "started_on")
                    #expect(refusal.message.contains("(\(DayText.format(today)) in \(zone), the team's time zone)"))
                }
                let trial = try await clinic.store.startTrial(
                    patientID: clinic.patient, kind: .psychotherapy, drug: nil, dailyDoseMg: nil, startedOn: today,
                    therapy: "CBT", by: psychiatrist)
                await #expect(throws: StoreError.self, "\(zone): stopped on the team's tomorrow") {
                    try await clinic.store.recordTrialOutcome(
                        trialID: trial, outcome: .stoppedEarly, stoppedOn: tomorrow, stopReason: "moved away",
                        by: psychiatrist)
                }
                _ = try await clinic.store.recordTrialOutcome(
                    trialID: trial, outcome: .stoppedEarly, stoppedOn: today, stopReason: "moved away",
                    by: psychiatrist)
                await #expect(throws: StoreError.self, "\(zone): enrolled on the team's tomorrow") {
                    try await clinic.store.createPatient(
                        teamID: clinic.team, mrn: "TZ-\(zone)", displayName: "Not Yet", enrolledOn: tomorrow,
                        by: .system())
                }
                _ = try await clinic.store.createPatient(
                    teamID: clinic.team, mrn: "TZ-\(zone)", displayName: "Today", enrolledOn: today, by: .system())
                await #expect(throws: StoreError.self, "\(zone): born on the team's tomorrow") {
                    try await clinic.store.setBirthDate(patientID: clinic.patient, tomorrow, by: psychiatrist)
                }
                try await clinic.store.setBirthDate(patientID: clinic.patient, today, by: psychiatrist)
            }
        }
    }
}

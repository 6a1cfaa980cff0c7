import CareDomain
import Foundation
import Testing

private let oneDay: TimeInterval = 86_400
/// 2026-11-30, midday UTC.
private let now = Date(timeIntervalSince1970: 1_796_040_000)
/// 2026-06-01.
private let enrolled = Date(timeIntervalSince1970: 1_780_272_000)

@Suite("What cannot be true")
struct PlausibilityTests {
    let rules = RecordRules()

    @Test(
        """
        a trial's dates: today on the team's calendar passes, its tomorrow is refused; more than a year before \
        enrolment is refused
        """,
        arguments: [
            ("today in UTC", now, "UTC", "2026-11-30", true),
            ("tomorrow in UTC", now, "UTC", "2026-12-01", false),
            // 22:00 UTC on Monday is 07:00 on Tuesday in Tokyo: its today.
            ("Tokyo's Tuesday morning", now.addingTimeInterval(10 * 3600), "Asia/Tokyo", "2026-12-01", true),
            ("Tokyo's Wednesday", now.addingTimeInterval(10 * 3600), "Asia/Tokyo", "2026-12-02", false),
            // 04:00 UTC on Tuesday is 20:00 on Monday in California: Tuesday is still tomorrow there.
            (
                "California's Monday evening", now.addingTimeInterval(16 * 3600), "America/Los_Angeles", "2026-11-30",
                true
            ),
            (
                "tomorrow at 8 pm in California", now.addingTimeInterval(16 * 3600), "America/Los_Angeles",
                "2026-12-01", false
            ),
            ("a year before enrolment", now, "UTC", "2025-06-01", true),
            ("a year and a day before", now, "UTC", "2025-05-31", false),
        ])
    func days(_ label: String, _ at: Date, _ zone: String, _ dayText: String, _ accepted: Bool) throws {
        let day = try Date(dayText + "T00:00:00Z", strategy: .iso8601)
        let refused =
            (try? rules.checkDay(
                day, field: "started_on", now: at, enrolledOn: enrolled, calendar: LocalCalendar(identifier: zone)))
            == nil
        #expect(refused != accepted, "\(label)")
    }

    @Test("a refusal names the field, says why, and what would be accepted")
    func refusalText() throws {
        let refusal = try #require(
            catching { () throws(InvalidValue) in
                try rules.checkDay(
                    DayText.startOfDay(now.addingTimeInterval(10 * oneDay)), field: "started_on", now: now,
                    enrolledOn: enrolled)
            })
        #expect(
            refusal
                == InvalidValue(
                    field: "started_on",
                    message:
                        """
                        'started_on' 2026-12-10 is in the future; it can be today (2026-11-30 in UTC, the team's time \
                        zone) at the latest
                        """,
                    accepted: ["on or before 2026-11-30"]))
        let order = try #require(
            catching { () throws(InvalidValue) in
                try rules.checkOrder(
                    start: enrolled, stop: enrolled.addingTimeInterval(-oneDay), field: "stopped_on",
                    startName: "started_on")
            })
        #expect(
            order.message == "'stopped_on' 2026-05-31 is before 'started_on' 2026-06-01"
                && order.accepted == ["on or after 2026-06-01"])
    }

    @Test("a score's time: up to the clock skew ahead", arguments: [(0.0, true), (240.0, true), (600.0, false)])
    func times(_ ahead: Double, _ accepted: Bool) {
        #expect(
            ((try? rules.checkTime(now.addingTimeInterval(ahead), field: "taken_at", now: now, enrolledOn: enrolled))
                != nil) == accepted)
    }

    @Test("the window is a setting: a clinic that records older history widens it")
    func widerWindow() {
        var wide = RecordRules()
        wide.historyWindowDays = 3650
        #expect(
            (try? wide.checkDay(
                enrolled.addingTimeInterval(-2000 * oneDay), field: "started_on", now: now, enrolledOn: enrolled))
                != nil)
    }

    @Test(
        "dose ceilings: at the maximum passes, above it needs a stated reason",
        arguments: [
            ("sertraline", 200.0, nil as String?, true), ("sertraline", 201.0, nil, false),
            ("sertraline", 5000.0, "  ", false),
            ("sertraline", 300.0, "levels checked", true), ("quetiapine", 300.0, nil, true),
            ("lithium", 2400.0, nil, false),
        ])
    func doses(_ drug: String, _ mg: Double, _ reason: String?, _ accepted: Bool) throws {
        let table = DoseTable.default
        let entry = try table.known(drug)
        #expect(((try? table.checkDose(mg, of: entry, highDoseReason: reason)) != nil) == accepted)
    }

    @Test(
        "an unknown drug lists close matches, best first",
        arguments: [
            ("setraline", ["sertraline"]), ("venlafaxin", ["venlafaxine", "desvenlafaxine"]), ("Bupropion ", []),
            ("paroxetin", ["paroxetine"]),
            ("xyz", []),
        ])
    func suggestions(_ typed: String, _ expected: [String]) {
        if expected.isEmpty, DoseTable.default.entry(for: typed) != nil { return }  // a known name needs no suggestion
        #expect(DoseTable.default.suggestions(for: typed) == expected)
    }

    @Test("every drug of the default table has a ceiling at or above its adequate dose")
    func ceilings() {
        for entry in DoseTable.default.entries {
            #expect((entry.maximumDailyDoseMg ?? 0) >= entry.minimumAdequateDailyDoseMg, "\(entry.drug)")
        }
    }
}

@Suite("The instruments' severity bands by their usual names")
struct SeverityNameTests {
    @Test(
        "PHQ-9, GAD-7 and MADRS",
        arguments: [
            (Instrument.phq9, 4, "minimal"), (.phq9, 9, "mild"), (.phq9, 14, "moderate"),
            (.phq9, 19, "moderately severe"), (.phq9, 27, "severe"),
            (.gad7, 4, "minimal"), (.gad7, 15, "severe"), (.madrs, 6, "normal"), (.madrs, 19, "mild"),
            (.madrs, 34, "moderate"), (.madrs, 35, "severe"),
        ])
    func band(_ instrument: Instrument, _ total: Int, _ name: String) throws {
        #expect(try Score(instrument, total: total).band == name)
        #expect(Score.band(instrument, total: total) == name)
    }
}

@Suite("Who acts on one piece of work")
struct RecordPermissionTests {
    let me = UUID()
    let someoneElse = UUID()

    @Test(
        "a handoff belongs to its receiving role, or the member it was given to; the care manager coordinates",
        arguments: [
            ([Role.socialWorker], Role.socialWorker, false, true), ([.psychologist], .socialWorker, false, false),
            ([.careManager], .psychiatrist, false, true),
            ([.psychiatrist], .psychiatrist, true, false), ([.psychiatrist, .careManager], .psychologist, true, true),
        ])
    func handoffs(_ roles: [Role], _ handoffRole: Role, _ givenToSomeoneElse: Bool, _ allowed: Bool) {
        #expect(
            RecordPermission.mayWorkHandoff(
                roles: Set(roles), memberID: me, handoffRole: handoffRole,
                assignedTo: givenToSomeoneElse ? someoneElse : nil) == allowed)
    }

    @Test(
        "entered in error: the recorder or a psychiatrist; a note only its author",
        arguments: [
            (true, [Role.psychologist], false, true), (false, [.psychiatrist], false, true),
            (false, [.socialWorker], false, false),
            (false, [.psychiatrist], true, false), (true, [.socialWorker], true, true),
        ])
    func corrections(_ recordedByMe: Bool, _ roles: [Role], _ isNote: Bool, _ allowed: Bool) {
        #expect(
            RecordPermission.mayMarkEnteredInError(
                recordedBy: recordedByMe ? me : someoneElse, memberID: me, roles: Set(roles), isNote: isNote) == allowed
        )
    }

    @Test("refusals are sentences naming the role")
    func refusals() {
        #expect(
            RecordPermission.handoffRefusal(handoffRole: .socialWorker, assignedTo: nil)
                == """
                this handoff is for the social worker; only a social worker of the team or the care manager \
                acknowledges or reassigns it
                """
        )
    }
}

@Suite("One open piece of work per decision")
struct OnePerPatientTests {
    @Test("a failed trial's three steps and the neuromodulation evaluation are one per patient; referrals' per event")
    func defaults() {
        let shared = Set(Playbook.default.steps.filter(\.onePerPatient).map(\.key))
        #expect(
            shared == [
                "trial-failed.next-step", "trial-failed.psychotherapy-review", "trial-failed.barriers",
                "trd.evaluate-neuromodulation",
            ])
    }

    @Test(
        "the title says how many causes",
        arguments: [(1, "Plan it"), (2, "Plan it (2 causes)"), (3, "Plan it (3 causes)")])
    func title(_ causes: Int, _ expected: String) {
        #expect(HandoffPlan.title("Plan it", causes: causes) == expected)
    }

    @Test("unknown names decode with the allowed names listed, not a type name")
    func names() throws {
        let error = #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([TaskPriority].self, from: Data(#"["high"]"#.utf8))
        }
        guard case .dataCorrupted(let context) = error else { Issue.record("\(String(describing: error))"); return }
        #expect(context.debugDescription == "must be one of routine, urgent, asap or stat, not high")
    }
}

private func catching(_ body: () throws(InvalidValue) -> Void) -> InvalidValue? {
    do { try body() } catch { return error }
    return nil
}

@Suite("The one permission gate")
struct GateTests {
    let me = UUID()

    @Test(
        "the team-wide table, then the record's own rule, each refusal a sentence",
        arguments: [
            (Permission.readClinical, [Role.socialWorker], [String](), nil as RecordRule?, true),
            (.readClinical, [.admin], [], nil, false),
            (.readClinical, [.integration], ["patients:read"], nil, true),
            (.readReport, [.compliance], [], nil, true),
            (.keepReportSnapshot, [.compliance], [], nil, false),
            (.createTeam, [.admin], [], nil, true),
            (.workTasks, [.psychologist], [], .handoff(role: .socialWorker, assignedTo: nil), false),
            (.workTasks, [.careManager], [], .handoff(role: .socialWorker, assignedTo: nil), true),
            (.workTasks, [.socialWorker], [], .poolTask(pool: .socialWorker), true),
            (.workTasks, [.psychiatrist], [], .poolTask(pool: .socialWorker), false),
            (.correctRecords, [.psychiatrist], [], .correction(what: "score", recordedBy: UUID(), isNote: false), true),
            (
                .correctRecords, [.integration], ["patients:read"],
                .correction(what: "score", recordedBy: nil, isNote: false), false
            ),
            (.addNote, [.psychologist], [], .noteAmendment(author: UUID()), false),
        ])
    func decide(_ permission: Permission, _ roles: [Role], _ scopes: [String], _ record: RecordRule?, _ allowed: Bool) {
        let decision = Permission.decide(
            permission, roles: Set(roles), scopes: Set(scopes), memberID: me, record: record)
        #expect((decision == .allowed) == allowed, "\(permission) \(roles) \(String(describing: record))")
        if case .refused(let reason) = decision { #expect(!reason.isEmpty && reason.first?.isLowercase == true) }
    }
}

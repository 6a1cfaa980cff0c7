import CareDomain
import Foundation
import Testing

/// The weekly case review's rules (docs/domain.md, "The weekly case review"), without a database.
@Suite("The weekly case review: who is listed, and why")
struct WeeklyReviewTests {
    static let day: TimeInterval = 86_400
    static let week: TimeInterval = 7 * day
    /// ISO week 2026-W48: Monday 2026-11-23 to Monday 2026-11-30.
    static let start = Date(timeIntervalSince1970: 1_795_392_000)
    static let window = ReviewWindow(start: start, asOf: start.addingTimeInterval(week))
    /// Twelve weeks before the window ends.
    static let enrolled = window.asOf.addingTimeInterval(-12 * week)
    static let thisWeek = start.addingTimeInterval(2 * day)

    @Test("the report's sections follow the meeting's order: kinds discussed together share one heading")
    func sectionsFollowRank() {
        for a in ReviewReasonKind.allCases {
            for b in ReviewReasonKind.allCases {
                #expect((a.rank == b.rank) == (a.section == b.section), "\(a) and \(b)")
            }
        }
        #expect(ReviewReasonKind.notImproving.section == "Not improving or newly treatment-resistant")
    }

    static func score(_ total: Int, weeksBeforeEnd: Double) -> ReviewFacts.DatedScore {
        .init(total: total, takenAt: window.asOf.addingTimeInterval(-weeksBeforeEnd * week))
    }

    static func trial(_ drug: String, _ drugClass: DrugClass, failedAt: Date?) -> ReviewFacts.Trial {
        .init(
            kind: .medication, name: drug, outcome: failedAt == nil ? nil : "non-response", isFailed: failedAt != nil,
            drugClass: drugClass,
            startedOn: enrolled.addingTimeInterval(day), stoppedOn: failedAt,
            updatedAt: failedAt ?? enrolled.addingTimeInterval(day))
    }

    /// A patient with nothing to discuss: enrolled 12 weeks ago, PHQ-9 20 → 8 (60% better), seen this week.
    static let quiet = ReviewFacts(
        enrolledOn: enrolled, baseline: score(20, weeksBeforeEnd: 12), latest: score(8, weeksBeforeEnd: 0.5),
        lastContact: thisWeek)

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var facts: ReviewFacts
        var rules = ReviewRules()
        var kinds: [ReviewReasonKind]
        var texts: [String] = []
        var testDescription: String { name }
    }

    static let cases: [Case] = {
        var cases: [Case] = []
        func add(
            _ name: String, _ change: (inout ReviewFacts) -> Void, rules: ReviewRules = ReviewRules(),
            _ kinds: [ReviewReasonKind], _ texts: [String] = []
        ) {
            var facts = quiet
            change(&facts)
            cases.append(Case(name: name, facts: facts, rules: rules, kinds: kinds, texts: texts))
        }
        add("nothing to discuss", { _ in }, [])
        add(
            "item 9 above 0 this week", { $0.safetySignalThisWeek = true }, [.safety],
            ["PHQ-9 item 9 above 0 this week"])
        add(
            "an unacknowledged safety handoff", { $0.unacknowledgedSafetyHandoff = true }, [.safety],
            ["an urgent safety assessment is not acknowledged"])
        add(
            "enrolled this week",
            {
                $0.enrolledOn = thisWeek; $0.episodeStart = thisWeek; $0.baseline = nil; $0.latest = nil
            },
            [.newPatient], ["enrolled 2026-11-25"])
        add(
            "week 12, 25% better: not improving", { $0.latest = score(15, weeksBeforeEnd: 0.5) },
            [.notImproving], ["week 12: PHQ-9 20 → 15, 25% better (under 50%)"])
        add(
            "week 12, worse than baseline: not improving, said as worse",
            { $0.latest = score(22, weeksBeforeEnd: 0.5) },
            [.notImproving], ["week 12: PHQ-9 20 → 22, 10% worse"])
        add(
            "week 12, no change: not improving", { $0.latest = score(20, weeksBeforeEnd: 0.5) },
            [.notImproving], ["week 12: PHQ-9 20 → 20, no better"])
        add(
            "week 7, 25% better: too early to say",
            {
                $0.enrolledOn = window.asOf.addingTimeInterval(-7 * week); $0.episodeStart = $0.enrolledOn
                $0.baseline = score(20, weeksBeforeEnd: 7); $0.latest = score(15, weeksBeforeEnd: 0.5)
            }, [])
        var strict = ReviewRules()
        strict.response.responseDrop = 0.70
        add(
            "60% better where the clinic asks for 70%", { _ in }, rules: strict, [.notImproving],
            ["week 12: PHQ-9 20 → 8, 60% better (under 70%)"])
        add(
            "a second failed class this week: newly TRD, and the trial failed",
            {
                $0.trials = [
                    trial("sertraline", .ssri, failedAt: enrolled.addingTimeInterval(6 * week)),
                    trial("venlafaxine", .snri, failedAt: thisWeek),
                ]
            }, [.newlyTRD, .failedTrial],
            [
                "met treatment-resistant depression this week: 2 failed adequate trials",
                "venlafaxine trial failed (non-response)",
            ])
        add(
            "TRD reached before this week: not newly",
            {
                $0.trials = [
                    trial("sertraline", .ssri, failedAt: enrolled.addingTimeInterval(4 * week)),
                    trial("venlafaxine", .snri, failedAt: enrolled.addingTimeInterval(8 * week)),
                ]
            }, [])
        add(
            "a referral this week",
            {
                $0.referrals = [
                    .init(kind: "tms", status: "requested", targetClinic: "Lakeside TMS", createdAt: thisWeek)
                ]
            },
            [.referral], ["TMS referral to Lakeside TMS (requested)"])
        add(
            "an open referral from before",
            { $0.referrals = [.init(kind: "ect", status: "scheduled", targetClinic: "City ECT", createdAt: enrolled)] },
            [])
        add(
            "overdue work",
            {
                $0.overdueHandoffs = 1; $0.overdueTasks = 2
            }, [.overdue], ["1 handoff and 2 tasks overdue"])
        add(
            "last seen five weeks ago", { $0.lastContact = window.asOf.addingTimeInterval(-5 * week) }, [.noContact],
            ["no contact for 5 weeks (last 2026-10-26)"])
        add(
            "never seen in twelve weeks",
            {
                $0.lastContact = nil; $0.baseline = nil; $0.latest = nil
            },
            [.noContact], ["no contact recorded since enrolment 12 weeks ago"])
        add(
            "PHQ-9 4: in remission", { $0.latest = score(4, weeksBeforeEnd: 0.5) }, [.remission],
            ["PHQ-9 4: in remission, ready for a relapse-prevention plan"])
        add(
            "in remission with a relapse-prevention plan already",
            {
                $0.latest = score(4, weeksBeforeEnd: 0.5); $0.status = .relapsePrevention
            }, [])
        add("PHQ-9 5 is not remission", { $0.latest = score(5, weeksBeforeEnd: 0.5) }, [])
        add(
            "several at once, most pressing first",
            {
                $0.latest = score(3, weeksBeforeEnd: 0.5); $0.overdueTasks = 1; $0.safetySignalThisWeek = true
            }, [.safety, .overdue, .remission])
        return cases
    }()

    @Test("who is listed and why", arguments: cases)
    func listed(_ example: Case) {
        let assessment = WeeklyReview.assess(example.facts, window: Self.window, rules: example.rules)
        #expect(assessment.reasons.map(\.kind) == example.kinds)
        #expect(assessment.isListed == !example.kinds.isEmpty)
        if !example.texts.isEmpty { #expect(assessment.reasons.map(\.text) == example.texts) }
        #expect(assessment.reasons.map(\.kind.rank) == assessment.reasons.map(\.kind.rank).sorted())
    }

    @Test("the figures beside the reasons: weeks, response, remission, TRD, staging, the running trial")
    func figures() {
        var facts = Self.quiet
        facts.trials = [
            Self.trial("sertraline", .ssri, failedAt: Self.enrolled.addingTimeInterval(6 * Self.week)),
            Self.trial("mirtazapine", .nassa, failedAt: nil),
        ]
        let assessment = WeeklyReview.assess(facts, window: Self.window)
        #expect(assessment.weeksInTreatment == 12)
        #expect(assessment.response?.isResponse == true && assessment.response?.isRemission == false)
        #expect(assessment.response.map { abs($0.improvement - 0.6) < 1e-9 } == true)
        #expect(!assessment.trd.isTRD && assessment.trd.failedTrials == 1 && !assessment.becameTRD)
        #expect(assessment.thaseRush.stage == .stageI)
        #expect(assessment.maudsley != nil)
        #expect(assessment.currentTrial?.name == "mirtazapine")
        // A score taken before the baseline (or none after it) says nothing about response.
        facts.latest = facts.baseline
        #expect(WeeklyReview.assess(facts, window: Self.window).response == nil)
    }

    /// 2026-W48 on a team's calendar: Monday 00:00 to Monday 00:00 there.
    static func window(in zone: String) -> ReviewWindow {
        let calendar = LocalCalendar(identifier: zone)
        let monday = calendar.midnight(of: start)
        return ReviewWindow(
            start: monday, asOf: calendar.midnight(of: start.addingTimeInterval(week)), calendar: calendar)
    }

    @Test(
        """
        on the team's calendar: a patient enrolled on the week's Monday is new in New York (west of UTC) and Tokyo \
        (east), one enrolled on the next Monday is not; weeks in treatment and the last contact's day are the team's
        """
    )
    func teamCalendar() throws {
        for zone in ["America/New_York", "Asia/Tokyo", "UTC"] {
            let window = Self.window(in: zone)
            var facts = Self.quiet
            facts.enrolledOn = Self.start  // 2026-11-23, the week's Monday
            facts.lastContact = nil
            facts.baseline = nil
            facts.latest = nil
            let monday = WeeklyReview.assess(facts, window: window)
            #expect(monday.isNew, "\(zone): enrolled on the week's Monday")
            #expect(monday.reasons.map(\.text).contains("enrolled 2026-11-23"), "\(zone)")
            #expect(monday.weeksInTreatment == 1, "\(zone): Monday to Monday is a week")
            facts.enrolledOn = Self.start.addingTimeInterval(Self.week)  // 2026-11-30, the next Monday
            #expect(!WeeklyReview.assess(facts, window: window).isNew, "\(zone): enrolled after the week")
        }
        // Twelve weeks in on the team's calendar, whichever side of UTC it is.
        for zone in ["America/Los_Angeles", "Pacific/Auckland"] {
            var facts = Self.quiet
            facts.enrolledOn = Self.start.addingTimeInterval(Self.week - 12 * Self.week)
            #expect(WeeklyReview.assess(facts, window: Self.window(in: zone)).weeksInTreatment == 12, "\(zone)")
        }
        // Last seen at 02:00 UTC on Sunday 1 November: Saturday evening, 31 October, in New York.
        var facts = Self.quiet
        facts.lastContact = try Date("2026-11-01T02:00:00Z", strategy: .iso8601)
        let reasons = WeeklyReview.assess(facts, window: Self.window(in: "America/New_York")).reasons.map(\.text)
        #expect(reasons.contains { $0.hasSuffix("(last 2026-10-31)") }, "\(reasons)")
        let utc = WeeklyReview.assess(facts, window: Self.window(in: "UTC")).reasons.map(\.text)
        #expect(utc.contains { $0.hasSuffix("(last 2026-11-01)") }, "\(utc)")
    }
}

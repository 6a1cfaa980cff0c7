@testable import CareDomain
import Foundation
import Testing

private let aDay: TimeInterval = 86_400
/// 2026-11-30, midday UTC.
private let asOf = Date(timeIntervalSince1970: 1_796_040_000)
private let episode = asOf.addingTimeInterval(-300 * aDay)

private func adequacy(_ adequate: Bool) -> AdequacyAssessment {
    AdequacyAssessment(
        isAdequate: adequate, weeksAtAdequateDose: adequate ? 8 : 2, drugClass: nil,
        reason: adequate ? "8 weeks at an adequate dose" : "2 weeks at an adequate dose, 6 needed", inputs: RuleInputs()
    )
}

private func trial(
    _ name: String, _ drugClass: DrugClass?, kind: TrialKind = .medication, failed: Bool = true,
    adequate: Bool = true, stoppedDaysAgo: Double? = 100
) -> PacketTrial {
    PacketTrial(
        id: UUID(), kind: kind, name: name, drugClass: drugClass, start: asOf.addingTimeInterval(-250 * aDay),
        stop: stoppedDaysAgo.map { asOf.addingTimeInterval(-$0 * aDay) }, adequacy: adequacy(adequate),
        isFailed: failed)
}

private func score(_ instrument: Instrument, _ total: Int, daysAgo: Double) throws -> PacketScore {
    PacketScore(
        id: UUID(), score: try Score(instrument, total: total), takenAt: asOf.addingTimeInterval(-daysAgo * aDay))
}

private func facts(
    trials: [PacketTrial] = [], scores: [PacketScore] = [], birth: Date? = nil, reason: String? = nil,
    screens: [ContraindicationScreen] = [], documented: [String: String] = [:]
) -> PriorAuthFacts {
    PriorAuthFacts(
        asOf: asOf, episodeStart: episode, birthDate: birth, trials: trials, scores: scores,
        noPsychotherapyReason: reason, screens: screens, documented: documented)
}

private func verdict(_ criterion: Criterion, _ facts: PriorAuthFacts) -> CriterionResult {
    PriorAuthEvaluation.evaluate(criterion, facts)
}

/// docs/prior-authorisation.md: each criterion just met and just missed.
@Suite("Prior authorisation criteria")
struct PriorAuthorisationTests {
    static let twoClasses = Criterion.failedTrials(.init(minimumTrials: 2, minimumClasses: 2))

    @Test(
        """
        failed trials: two of two classes meet it; one class, one trial, a trial that stopped before the episode, or \
        one not failed do not
        """,
        arguments: [
            (
                "two classes", [trial("sertraline", .ssri), trial("venlafaxine", .snri)], true,
                ""
            ),
            (
                "one class", [trial("sertraline", .ssri), trial("escitalopram", .ssri)], false,
                "1 class (ssri), 2 needed"
            ),
            ("one trial", [trial("sertraline", .ssri)], false, "1 failed adequate trial is recorded"),
            (
                "stopped the day the episode began",
                [trial("sertraline", .ssri), trial("venlafaxine", .snri, stoppedDaysAgo: 300)],
                true, ""
            ),
            (
                "stopped the day before the episode",
                [trial("sertraline", .ssri), trial("venlafaxine", .snri, stoppedDaysAgo: 301)],
                false, "1 failed adequate trial is recorded"
            ),
            (
                "one not failed", [trial("sertraline", .ssri), trial("venlafaxine", .snri, failed: false)], false,
                "2 needed"
            ),
            (
                "a psychotherapy does not count",
                [trial("sertraline", .ssri), trial("CBT", nil, kind: .psychotherapy)], false, "2 needed"
            ),
        ])
    func failedTrials(_ name: String, _ trials: [PacketTrial], _ met: Bool, _ said: String) {
        let result = verdict(Self.twoClasses, facts(trials: trials))
        #expect(result.isMet == met, "\(name): \(result)")
        if !met {
            #expect(result.toMeet?.contains(said) == true, "\(name): \(result.toMeet ?? "nothing to meet")")
        }
        #expect(
            result.trialIDs.count
                == trials.filter { $0.isFailed && $0.kind.countsTowardsTRD && ($0.stop ?? asOf) >= episode }.count)
    }

    @Test(
        """
        failed trials: an augmentation asked for is met only by a failed augmentation; a trial not adequate says why \
        it did not count
        """
    )
    func augmentations() {
        let rule = Criterion.failedTrials(.init(minimumTrials: 2, minimumClasses: 1, minimumAugmentations: 1))
        let medications = [trial("sertraline", .ssri), trial("escitalopram", .ssri)]
        let missing = verdict(rule, facts(trials: medications))
        #expect(!missing.isMet && missing.toMeet?.contains("0 augmentations, 1 needed") == true)
        #expect(
            verdict(
                rule, facts(trials: medications + [trial("aripiprazole", .atypicalAntipsychotic, kind: .augmentation)])
            ).isMet)
        let short = verdict(
            Self.twoClasses,
            facts(trials: [trial("sertraline", .ssri), trial("venlafaxine", .snri, failed: false, adequate: false)]))
        #expect(short.evidence.contains { $0.contains("not counted: venlafaxine") && $0.contains("not adequate") })
    }

    @Test("psychotherapy: an adequate trial, or a documented reason when the set allows one")
    func psychotherapy() {
        let allowing = Criterion.psychotherapy(.init(allowDocumentedReason: true))
        let strict = Criterion.psychotherapy(.init(allowDocumentedReason: false))
        let cbt = trial("CBT", nil, kind: .psychotherapy, failed: false)
        let short = trial("CBT", nil, kind: .psychotherapy, failed: false, adequate: false)
        #expect(verdict(allowing, facts(trials: [cbt])).isMet)
        let none = verdict(allowing, facts())
        #expect(
            !none.isMet
                && none.toMeet
                    == "no psychotherapy trial is recorded: record one (or its sessions), or the reason there was none"
        )
        let notEnough = verdict(allowing, facts(trials: [short]))
        #expect(!notEnough.isMet && notEnough.toMeet?.hasPrefix("no psychotherapy trial is adequate yet") == true)
        let excused = verdict(allowing, facts(reason: "no therapist within reach who takes her insurance"))
        #expect(excused.isMet && excused.evidence.contains { $0.contains("no therapist") })
        #expect(!verdict(strict, facts(reason: "no therapist")).isMet)
    }

    @Test(
        "severity: PHQ-9 15 or MADRS 20 within 30 days meets it; 14, 19, or a score 31 days old does not",
        arguments: [
            (Instrument.phq9, 15, 30.0, true), (.phq9, 14, 1, false), (.phq9, 15, 31, false), (.madrs, 20, 2, true),
            (.madrs, 19, 2, false), (.gad7, 21, 1, false),
        ])
    func severity(_ instrument: Instrument, _ total: Int, _ daysAgo: Double, _ met: Bool) throws {
        let rule = Criterion.severity(.init(phq9AtLeast: 15, madrsAtLeast: 20, withinDays: 30))
        let result = verdict(rule, facts(scores: [try score(instrument, total, daysAgo: daysAgo)]))
        #expect(result.isMet == met, "\(instrument.rawValue) \(total), \(daysAgo) days ago: \(result)")
        if !met { #expect(result.toMeet != nil) }
    }

    @Test(
        """
        severity: with no recent score it asks for one; the qualifying score is the evidence, and a later score \
        below the threshold is said beside it
        """
    )
    func severityEvidence() throws {
        let rule = Criterion.severity(.init(phq9AtLeast: 15, madrsAtLeast: nil, withinDays: 30))
        #expect(verdict(rule, facts()).toMeet == "no PHQ-9 or MADRS in the last 30 days: record one")
        let high = try score(.phq9, 18, daysAgo: 10)
        let result = verdict(rule, facts(scores: [try score(.phq9, 12, daysAgo: 2), high]))
        #expect(result.isMet && result.scoreIDs == [high.id])
        #expect(result.evidence.count == 2 && result.evidence[1].hasPrefix("since then: PHQ-9 12 on "))
        #expect(result.evidence.last?.hasSuffix(", below 15") == true)
        // The qualifying score is the latest: nothing else to say.
        let latest = verdict(rule, facts(scores: [try score(.phq9, 12, daysAgo: 12), high]))
        #expect(latest.isMet && latest.evidence.count == 1, "\(latest.evidence)")
    }

    @Test("the contraindication screen: negative meets it; a finding, none, or the other treatment's screen does not")
    func screen() {
        let rule = Criterion.contraindicationScreen(.init(treatment: .tms))
        var answers = Dictionary(uniqueKeysWithValues: ContraindicationItem.asked(for: .tms).map { ($0, false) })
        let negative = ContraindicationScreen(treatment: .tms, answers: answers, completedAt: asOf)
        #expect(verdict(rule, facts(screens: [negative])).isMet)
        answers[.seizureHistory] = true
        let found = verdict(
            rule, facts(screens: [ContraindicationScreen(treatment: .tms, answers: answers, completedAt: asOf)]))
        #expect(!found.isMet && found.evidence.first?.contains("seizures") == true)
        #expect(verdict(rule, facts()).toMeet?.contains("no TMS contraindication screen") == true)
        let ect = ContraindicationScreen(
            treatment: .ect,
            answers: Dictionary(uniqueKeysWithValues: ContraindicationItem.asked(for: .ect).map { ($0, false) }),
            completedAt: asOf)
        #expect(!verdict(rule, facts(screens: [ect])).isMet)
    }

    @Test("a screen is recorded whole: every question of its treatment answered, nothing else asked")
    func screenValidation() throws {
        let partial = ContraindicationScreen(treatment: .tms, answers: [.pregnancy: false], completedAt: asOf)
        #expect(throws: InvalidValue.self) { try partial.validate() }
        var answers = Dictionary(uniqueKeysWithValues: ContraindicationItem.asked(for: .tms).map { ($0, false) })
        try ContraindicationScreen(treatment: .tms, answers: answers, completedAt: asOf).validate()
        answers[.cardiacOrAnaestheticRisk] = false
        #expect(throws: InvalidValue.self) {
            try ContraindicationScreen(treatment: .tms, answers: answers, completedAt: asOf).validate()
        }
    }

    @Test("age: 18 on the day meets it, a day short does not, an unknown birth date asks for it")
    func age() {
        let rule = Criterion.minimumAge(.init(years: 18))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let eighteen = calendar.date(byAdding: .year, value: -18, to: asOf)!
        #expect(verdict(rule, facts(birth: eighteen)).isMet)
        #expect(!verdict(rule, facts(birth: eighteen.addingTimeInterval(aDay))).isMet)
        #expect(verdict(rule, facts()).toMeet == "record the patient's date of birth")
    }

    @Test(
        """
        the team's calendar: a score taken at 22:30 on a Sunday in New York is that Sunday's, and a patient born on \
        Monday is not a year older until Monday there
        """
    )
    func teamCalendar() throws {
        // 2026-11-30T03:30Z is 22:30 on Sunday the 29th in New York, already Monday in UTC.
        let late = Date(timeIntervalSince1970: 1_796_009_400)
        let newYork = LocalCalendar(identifier: "America/New_York")
        let phq9 = PacketScore(id: UUID(), score: try Score(.phq9, total: 19), takenAt: late)
        let severity = Criterion.severity(.init(phq9AtLeast: 15, madrsAtLeast: nil, withinDays: 30))
        func at(_ calendar: LocalCalendar, birth: Date? = nil) -> PriorAuthFacts {
            PriorAuthFacts(
                asOf: late, episodeStart: episode, birthDate: birth, scores: [phq9],
                screens: [
                    ContraindicationScreen(
                        treatment: .tms,
                        answers: Dictionary(
                            uniqueKeysWithValues: ContraindicationItem.asked(for: .tms).map { ($0, false) }),
                        completedAt: late)
                ], calendar: calendar)
        }
        #expect(verdict(severity, at(newYork)).evidence == ["PHQ-9 19 on 2026-11-29"])
        #expect(verdict(severity, at(LocalCalendar(identifier: "UTC"))).evidence == ["PHQ-9 19 on 2026-11-30"])
        let screen = Criterion.contraindicationScreen(.init(treatment: .tms))
        #expect(verdict(screen, at(newYork)).evidence.first?.contains("screen of 2026-11-29") == true)
        // Eighteen on Monday 2026-11-30: not yet on Sunday evening in New York; already in UTC.
        let born = try #require(ISO8601DateFormatter().date(from: "2008-11-30T00:00:00Z"))
        let adult = Criterion.minimumAge(.init(years: 18))
        #expect(!verdict(adult, at(newYork, birth: born)).isMet)
        #expect(verdict(adult, at(LocalCalendar(identifier: "UTC"), birth: born)).isMet)
    }

    @Test(
        "ECT's default: a severe score with a failed trial, or a documented need for a rapid response; and the work-up")
    func ectDefault() throws {
        let screen = ContraindicationScreen(
            treatment: .ect,
            answers: Dictionary(uniqueKeysWithValues: ContraindicationItem.asked(for: .ect).map { ($0, false) }),
            completedAt: asOf)
        let base = facts(
            trials: [trial("sertraline", .ssri)], scores: [try score(.phq9, 20, daysAgo: 3)], screens: [screen],
            documented: ["anaesthesia-workup": "cleared by anaesthesia on 2026-11-20"])
        #expect(CriteriaSet.defaultECT.evaluate(base).allMet)
        var milder = base
        milder.scores = [try score(.phq9, 19, daysAgo: 3)]
        let evaluation = CriteriaSet.defaultECT.evaluate(milder)
        #expect(!evaluation.allMet && evaluation.unmet.count == 1)
        #expect(evaluation.unmet.first?.toMeet?.contains("document a need for a rapid response") == true)
        milder.documented["rapid-response"] = "not eating or drinking for three days"
        #expect(CriteriaSet.defaultECT.evaluate(milder).allMet)
    }

    @Test("TMS's default, all met: every criterion with its evidence")
    func tmsDefault() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let evaluation = CriteriaSet.defaultTMS.evaluate(
            facts(
                trials: [
                    trial("sertraline", .ssri), trial("venlafaxine", .snri),
                    trial("CBT", nil, kind: .psychotherapy, failed: false),
                ], scores: [try score(.phq9, 19, daysAgo: 5)],
                birth: calendar.date(byAdding: .year, value: -40, to: asOf),
                screens: [
                    ContraindicationScreen(
                        treatment: .tms,
                        answers: Dictionary(
                            uniqueKeysWithValues: ContraindicationItem.asked(for: .tms).map { ($0, false) }),
                        completedAt: asOf)
                ]))
        #expect(evaluation.allMet, "\(evaluation.unmet)")
        #expect(evaluation.results.allSatisfy { !$0.evidence.isEmpty })
        #expect(
            evaluation.results.map(\.statement).first
                == """
                at least 2 failed adequate antidepressant trials in the current episode, from at least 2 drug \
                classes
                """
        )
    }

    @Test(
        """
        criteria sets are data: the defaults read back as written; an unknown criterion type is refused, naming the \
        known ones
        """
    )
    func codable() throws {
        for set in CriteriaSet.defaults {
            let data = try JSONEncoder().encode(set)
            #expect(try JSONDecoder().decode(CriteriaSet.self, from: data) == set)
        }
        let json = #"{"name": "X", "treatment": "tms", "criteria": [{"type": "horoscope"}]}"#
        #expect {
            try JSONDecoder().decode(CriteriaSet.self, from: Data(json.utf8))
        } throws: { error in
            "\(error)".contains("unknown criterion type 'horoscope'") && "\(error)".contains("failed-trials")
        }
    }
}

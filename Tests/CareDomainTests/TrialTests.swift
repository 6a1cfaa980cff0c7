import CareDomain
import Foundation
import Testing

let day = 86_400.0
let week = 7 * day
let trialStart = Date(timeIntervalSince1970: 1_790_000_000)

func weeks(_ n: Double) -> Date { trialStart.addingTimeInterval(n * week) }

func sertraline(
    _ steps: [(Double, Double)], stop: Double? = nil, adherence: Double? = nil, outcome: TrialOutcome? = nil
) -> TrialFacts {
    TrialFacts(
        kind: .medication, drug: "sertraline",
        doses: steps.map { DoseStep(from: weeks($0.0), dailyDoseMg: $0.1) },
        start: trialStart, stop: stop.map(weeks), adherence: adherence, outcome: outcome)
}

@Suite("Trial adequacy, outcome and failure")
struct TrialTests {
    let rules = TrialRules()

    struct AdequacyCase: Sendable, CustomStringConvertible {
        var description: String
        var trial: TrialFacts
        var asOfWeeks: Double
        var adequate: Bool
        var weeksAtDose: Double
    }

    static let adequacyCases: [AdequacyCase] = [
        AdequacyCase(
            description: "exactly 6 weeks at the minimum dose", trial: sertraline([(0, 50)]), asOfWeeks: 6,
            adequate: true, weeksAtDose: 6),
        AdequacyCase(
            description: "5.9 weeks at the minimum dose", trial: sertraline([(0, 50)]), asOfWeeks: 5.9, adequate: false,
            weeksAtDose: 5.9),
        AdequacyCase(
            description: "8 weeks below the minimum dose", trial: sertraline([(0, 25)]), asOfWeeks: 8, adequate: false,
            weeksAtDose: 0),
        AdequacyCase(
            description: "2 weeks titration then 6 at dose", trial: sertraline([(0, 25), (2, 50)]), asOfWeeks: 8,
            adequate: true, weeksAtDose: 6),
        AdequacyCase(
            description: "4 weeks at dose then cut to 25 mg", trial: sertraline([(0, 100), (4, 25)]), asOfWeeks: 10,
            adequate: false, weeksAtDose: 4),
        AdequacyCase(
            description: "stopped at week 7 after 7 weeks at dose", trial: sertraline([(0, 50)], stop: 7),
            asOfWeeks: 20, adequate: true, weeksAtDose: 7),
        AdequacyCase(
            description: "stopped at 3 weeks for intolerance",
            trial: sertraline([(0, 50)], stop: 3, outcome: .intolerance), asOfWeeks: 10, adequate: false, weeksAtDose: 3
        ),
        AdequacyCase(
            description: "6 weeks at dose but adherence 70%", trial: sertraline([(0, 50)], adherence: 0.7),
            asOfWeeks: 6, adequate: false, weeksAtDose: 6),
        AdequacyCase(
            description: "6 weeks at dose, adherence exactly 80%", trial: sertraline([(0, 50)], adherence: 0.8),
            asOfWeeks: 6, adequate: true, weeksAtDose: 6),
    ]

    @Test(
        "adequacy: at least 6 weeks at or above the minimum adequate dose, taken as prescribed",
        arguments: adequacyCases)
    func adequacy(_ testCase: AdequacyCase) throws {
        let assessment = try rules.adequacy(of: testCase.trial, doseTable: .default, asOf: weeks(testCase.asOfWeeks))
        #expect(assessment.isAdequate == testCase.adequate)
        #expect(abs(assessment.weeksAtAdequateDose - testCase.weeksAtDose) < 0.001)
        #expect(assessment.drugClass == .ssri)
        #expect(assessment.inputs["minimum adequate dose"] == "50 mg/day")
    }

    @Test("a trial stopped at 3 weeks for intolerance is recorded but is not a failed adequate trial")
    func earlyIntolerance() throws {
        let trial = sertraline([(0, 100)], stop: 3, outcome: .intolerance)
        let assessment = try rules.adequacy(of: trial, doseTable: .default, asOf: weeks(3))
        #expect(!assessment.isAdequate)
        #expect(assessment.reason.contains("intolerance"))
        #expect(!rules.isFailure(trial, adequacy: assessment))
    }

    @Test(
        "failure is an adequate trial ending in non-response or partial response",
        arguments: [
            (TrialOutcome.nonResponse, true, true), (.partialResponse, true, true), (.response, true, false),
            (.nonResponse, false, false), (.stoppedEarly, true, false),
        ])
    func failure(outcome: TrialOutcome, adequateTrial: Bool, failed: Bool) throws {
        let trial = sertraline([(0, 50)], stop: adequateTrial ? 8 : 4, outcome: outcome)
        let assessment = try rules.adequacy(of: trial, doseTable: .default, asOf: weeks(8))
        #expect(assessment.isAdequate == adequateTrial)
        #expect(rules.isFailure(trial, adequacy: assessment) == failed)
    }

    @Test(
        "the outcome derived from scores before and after",
        arguments: [
            (20, 16, TrialOutcome.nonResponse), (20, 15, .partialResponse), (20, 10, .response), (20, 3, .response),
        ])
    func derivedOutcome(before: Int, after: Int, outcome: TrialOutcome) throws {
        #expect(
            try rules.derivedOutcome(before: Score(.phq9, total: before), after: Score(.phq9, total: after)) == outcome)
    }

    @Test("a drug missing from the dose table is a clear error")
    func unknownDrug() {
        let trial = TrialFacts(
            kind: .medication, drug: "placebozine", doses: [DoseStep(from: trialStart, dailyDoseMg: 10)],
            start: trialStart)
        let error = #expect(throws: TrialError.self) {
            try rules.adequacy(of: trial, doseTable: .default, asOf: weeks(8))
        }
        #expect(error?.description.contains("placebozine is not in the dose table") == true)
    }

    @Test("psychotherapy is adequate from 8 sessions", arguments: [(7, false), (8, true)])
    func psychotherapy(sessions: Int, adequate: Bool) throws {
        let trial = TrialFacts(kind: .psychotherapy, start: trialStart, sessions: sessions)
        #expect(try rules.adequacy(of: trial, doseTable: .default, asOf: weeks(12)).isAdequate == adequate)
    }

    @Test(
        "the dose table covers the classes docs/domain.md names",
        arguments: [
            ("sertraline", DrugClass.ssri), ("venlafaxine", .snri), ("bupropion", .ndri), ("mirtazapine", .nassa),
            ("vortioxetine", .multimodal), ("nortriptyline", .tca), ("phenelzine", .maoi), ("lithium", .lithium),
            ("aripiprazole", .atypicalAntipsychotic),
        ])
    func doseTable(drug: String, drugClass: DrugClass) throws {
        let entry = try #require(DoseTable.default.entry(for: drug))
        #expect(entry.drugClass == drugClass)
        #expect(entry.minimumAdequateDailyDoseMg > 0)
    }
}

@Suite("Treatment resistance and staging")
struct StagingTests {
    static let ssri = FailedTrial(kind: .medication, drugClass: .ssri)
    static let snri = FailedTrial(kind: .medication, drugClass: .snri)
    static let tca = FailedTrial(kind: .medication, drugClass: .tca)
    static let maoi = FailedTrial(kind: .medication, drugClass: .maoi)
    static let ect = FailedTrial(kind: .neuromodulation, drugClass: nil, isBilateralECT: true)
    static let therapy = FailedTrial(kind: .psychotherapy, drugClass: nil)

    @Test(
        "TRD at 2 failed adequate trials; with the different-classes rule, of 2 classes",
        arguments: [
            ([ssri], false, false),
            ([ssri, ssri], false, true),
            ([ssri, ssri], true, false),  // two failures in one class
            ([ssri, snri], true, true),
            ([ssri, therapy], false, false),  // psychotherapy does not count
        ])
    func trd(failed: [FailedTrial], differentClasses: Bool, isTRD: Bool) {
        var rules = TrialRules()
        rules.trdRequiresDifferentClasses = differentClasses
        let status = rules.trdStatus(failed: failed)
        #expect(status.isTRD == isTRD)
        #expect(status.inputs["different classes required"] == (differentClasses ? "yes" : "no"))
    }

    @Test(
        "Thase-Rush stages",
        arguments: [
            ([FailedTrial](), ThaseRushStage.none),
            ([ssri], .stageI),
            ([ssri, ssri], .stageI),
            ([ssri, snri], .stageII),
            ([ssri, tca], .stageII),
            ([ssri, snri, tca], .stageIII),
            ([ssri, snri, maoi], .stageII),
            ([ssri, snri, tca, maoi], .stageIV),
            ([ssri, snri, tca, maoi, ect], .stageV),
            ([ssri, snri, tca, ect], .stageIII),
        ])
    func thaseRush(failed: [FailedTrial], stage: ThaseRushStage) {
        let assessment = Staging.thaseRush(failed: failed)
        #expect(assessment.stage == stage)
        #expect(assessment.inputs["tricyclic failed"] == (failed.contains(Self.tca) ? "yes" : "no"))
    }

    static let episodeStart = Date(timeIntervalSince1970: 1_700_000_000)
    static func months(_ n: Double) -> Date { episodeStart.addingTimeInterval(n * 365.25 / 12 * day) }

    struct MaudsleyCase: Sendable, CustomStringConvertible {
        var description: String
        var facts: MaudsleyFacts
        var total: Int
        var band: MaudsleyBand
    }

    static let maudsleyCases: [MaudsleyCase] = [
        MaudsleyCase(
            description: "lowest possible",
            facts: MaudsleyFacts(
                episodeStart: episodeStart, asOf: months(6), severity: .subsyndromal, failedMedications: 1,
                augmentationUsed: false, ectUsed: false), total: 3, band: .mild),
        MaudsleyCase(
            description: "12 months is still acute",
            facts: MaudsleyFacts(
                episodeStart: episodeStart, asOf: months(12), severity: .moderate, failedMedications: 2,
                augmentationUsed: true, ectUsed: false), total: 6, band: .mild),
        MaudsleyCase(
            description: "13 months is subacute",
            facts: MaudsleyFacts(
                episodeStart: episodeStart, asOf: months(13), severity: .moderate, failedMedications: 2,
                augmentationUsed: true, ectUsed: false), total: 7, band: .moderate),
        MaudsleyCase(
            description: "3-4 failed medications score 2",
            facts: MaudsleyFacts(
                episodeStart: episodeStart, asOf: months(20), severity: .severeWithoutPsychosis, failedMedications: 3,
                augmentationUsed: false, ectUsed: false), total: 8, band: .moderate),
        MaudsleyCase(
            description: "top of moderate",
            facts: MaudsleyFacts(
                episodeStart: episodeStart, asOf: months(30), severity: .moderate, failedMedications: 5,
                augmentationUsed: true, ectUsed: false), total: 10, band: .moderate),
        MaudsleyCase(
            description: "bottom of severe",
            facts: MaudsleyFacts(
                episodeStart: episodeStart, asOf: months(30), severity: .severeWithoutPsychosis, failedMedications: 5,
                augmentationUsed: true, ectUsed: false), total: 11, band: .severe),
        MaudsleyCase(
            description: "highest possible",
            facts: MaudsleyFacts(
                episodeStart: episodeStart, asOf: months(40), severity: .severeWithPsychosis, failedMedications: 11,
                augmentationUsed: true, ectUsed: true), total: 15, band: .severe),
        MaudsleyCase(
            description: "7-10 failures score 4",
            facts: MaudsleyFacts(
                episodeStart: episodeStart, asOf: months(3), severity: .mild, failedMedications: 10,
                augmentationUsed: false, ectUsed: false), total: 7, band: .moderate),
    ]

    @Test("Maudsley Staging Method totals and bands", arguments: maudsleyCases)
    func maudsley(_ testCase: MaudsleyCase) {
        let assessment = Staging.maudsley(testCase.facts)
        #expect(assessment.total == testCase.total)
        #expect(assessment.band == testCase.band)
        #expect(
            assessment.total == assessment.duration + assessment.severity + assessment.failures
                + assessment.augmentation + assessment.ect)
    }

    @Test(
        "Maudsley severity from the PHQ-9 band",
        arguments: [
            (3, false, MaudsleySeverity.subsyndromal), (7, false, .mild), (12, false, .moderate),
            (17, false, .severeWithoutPsychosis), (24, true, .severeWithPsychosis),
        ])
    func maudsleySeverity(total: Int, psychosis: Bool, severity: MaudsleySeverity) throws {
        #expect(MaudsleySeverity.from(try Score(.phq9, total: total), psychoticFeatures: psychosis) == severity)
    }
}

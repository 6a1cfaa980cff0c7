import Foundation

/// Antidepressant classes, as staging and the different-classes TRD rule count them.
public enum DrugClass: String, Sendable, Codable, CaseIterable {
    case ssri, snri
    /// Bupropion.
    case ndri
    /// Mirtazapine.
    case nassa
    /// Vortioxetine, vilazodone.
    case multimodal
    case tca, maoi
    /// Trazodone.
    case sari
    /// Agomelatine.
    case melatonergic
    /// Lithium as an augmenter.
    case lithium
    /// Aripiprazole, quetiapine, brexpiprazole as augmenters.
    case atypicalAntipsychotic = "atypical-antipsychotic"

    public var isAugmenter: Bool { self == .lithium || self == .atypicalAntipsychotic }
}

/// One row of the dose table: the lowest daily dose that counts towards an adequate trial.
public struct DoseEntry: Sendable, Equatable, Codable {
    public var drug: String
    public var drugClass: DrugClass
    public var minimumAdequateDailyDoseMg: Double
    /// The highest daily dose accepted without a stated reason (nil: no ceiling).
    public var maximumDailyDoseMg: Double?

    public init(_ drug: String, _ drugClass: DrugClass, _ minimumMg: Double, max maximumMg: Double? = nil) {
        self.drug = drug
        self.drugClass = drugClass
        self.minimumAdequateDailyDoseMg = minimumMg
        self.maximumDailyDoseMg = maximumMg
    }
}

/// Minimum adequate doses per drug. The default is a configurable starting point (after common
/// trial-adequacy tables such as the ATHF and the Maudsley guidelines), not clinical advice:
/// clinics change it as data (the database seeds the same rows).
public struct DoseTable: Sendable, Equatable, Codable {
    public var entries: [DoseEntry]

    public init(entries: [DoseEntry]) { self.entries = entries }

    public func entry(for drug: String) -> DoseEntry? {
        let key = drug.lowercased().trimmingCharacters(in: .whitespaces)
        return entries.first { $0.drug == key }
    }

    /// Close matches for a name that is not in the table, best first: names that start with it
    /// or contain it, then names a few typing slips away.
    public func suggestions(for name: String, limit: Int = 5) -> [String] {
        let key = name.lowercased().trimmingCharacters(in: .whitespaces)
        guard !key.isEmpty else { return [] }
        // Best first: names that start with it, then names that contain it, then near misses;
        // within each, the fewest typing slips.
        let scored = entries.compactMap { entry -> (Int, Int, String)? in
            let distance = editDistance(key, entry.drug)
            if entry.drug.hasPrefix(key) { return (0, distance, entry.drug) }
            if key.count >= 3, entry.drug.contains(key) { return (1, distance, entry.drug) }
            return distance <= max(2, key.count / 3) ? (2, distance, entry.drug) : nil
        }
        return scored.sorted { $0 < $1 }.prefix(limit).map(\.2)
    }

    /// The dose table's entry for `drug`, or the refusal that names close matches.
    public func known(_ drug: String, field: String = "drug") throws(InvalidValue) -> DoseEntry {
        if let entry = entry(for: drug) { return entry }
        let close = suggestions(for: drug)
        throw InvalidValue(
            field: field,
            message: "\(drug) is not in the dose table"
                + (close.isEmpty
                    ? "; an admin adds new drugs to it" : "; did you mean \(close.joined(separator: ", "))?"),
            accepted: close)
    }

    /// A daily dose the table accepts: above 0, and at most the drug's maximum unless a reason
    /// for the high dose is given.
    public func checkDose(
        _ dailyDoseMg: Double, of entry: DoseEntry, field: String = "daily_dose_mg", highDoseReason: String?
    ) throws(InvalidValue) {
        guard dailyDoseMg > 0, dailyDoseMg.isFinite else {
            throw InvalidValue(field: field, message: "a daily dose must be above 0 mg", accepted: [])
        }
        if let maximum = entry.maximumDailyDoseMg, dailyDoseMg > maximum,
            (highDoseReason ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        {
            throw InvalidValue(
                field: field,
                message:
                    "\(format(dailyDoseMg)) mg a day is above the dose table's maximum for \(entry.drug) "
                    + "(\(format(maximum)) mg); to record it anyway, set confirm_high_dose with a reason",
                accepted: ["up to \(format(maximum))"])
        }
    }

    public static let `default` = DoseTable(entries: [
        // Minimum adequate daily dose, then the usual labelled maximum (mg a day).
        DoseEntry("citalopram", .ssri, 20, max: 40), DoseEntry("escitalopram", .ssri, 10, max: 20),
        DoseEntry("fluoxetine", .ssri, 20, max: 80), DoseEntry("fluvoxamine", .ssri, 100, max: 300),
        DoseEntry("paroxetine", .ssri, 20, max: 60), DoseEntry("sertraline", .ssri, 50, max: 200),
        DoseEntry("venlafaxine", .snri, 150, max: 375), DoseEntry("desvenlafaxine", .snri, 50, max: 400),
        DoseEntry("duloxetine", .snri, 60, max: 120), DoseEntry("levomilnacipran", .snri, 40, max: 120),
        DoseEntry("milnacipran", .snri, 100, max: 200),
        DoseEntry("bupropion", .ndri, 300, max: 450),
        DoseEntry("mirtazapine", .nassa, 30, max: 45),
        DoseEntry("vortioxetine", .multimodal, 10, max: 20), DoseEntry("vilazodone", .multimodal, 20, max: 40),
        DoseEntry("trazodone", .sari, 150, max: 600), DoseEntry("agomelatine", .melatonergic, 25, max: 50),
        DoseEntry("amitriptyline", .tca, 150, max: 300), DoseEntry("clomipramine", .tca, 150, max: 250),
        DoseEntry("desipramine", .tca, 150, max: 300), DoseEntry("doxepin", .tca, 150, max: 300),
        DoseEntry("imipramine", .tca, 150, max: 300), DoseEntry("nortriptyline", .tca, 75, max: 150),
        DoseEntry("isocarboxazid", .maoi, 30, max: 60), DoseEntry("phenelzine", .maoi, 45, max: 90),
        DoseEntry("tranylcypromine", .maoi, 30, max: 60), DoseEntry("selegiline-transdermal", .maoi, 6, max: 12),
        DoseEntry("lithium", .lithium, 600, max: 1800),
        DoseEntry("aripiprazole", .atypicalAntipsychotic, 2, max: 15),
        DoseEntry("brexpiprazole", .atypicalAntipsychotic, 1, max: 3),
        DoseEntry("quetiapine", .atypicalAntipsychotic, 150, max: 300),
    ])
}

/// Levenshtein distance (drug names are short).
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in stride(from: 1, through: b.count, by: 1) {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}

public enum TrialKind: String, Sendable, Codable, CaseIterable {
    case medication, augmentation, psychotherapy, neuromodulation

    /// Trials that count towards treatment resistance (failed adequate antidepressant trials).
    public var countsTowardsTRD: Bool { self == .medication || self == .augmentation }
}

/// How a trial ended, as recorded by the psychiatrist (or psychologist for psychotherapy).
public enum TrialOutcome: String, Sendable, Codable, CaseIterable {
    case response
    case partialResponse = "partial-response"
    case nonResponse = "non-response"
    case intolerance
    case stoppedEarly = "stopped-early"
}

/// A daily dose from a date (until the next step or the trial's stop).
public struct DoseStep: Sendable, Equatable, Codable {
    public var from: Date
    public var dailyDoseMg: Double
    public init(from: Date, dailyDoseMg: Double) {
        self.from = from
        self.dailyDoseMg = dailyDoseMg
    }
}

/// A treatment trial as the rules see it.
public struct TrialFacts: Sendable, Equatable, Codable {
    public var kind: TrialKind
    /// The drug (medication and augmentation), lower case as in the dose table.
    public var drug: String?
    /// For neuromodulation: whether it was bilateral ECT (Thase-Rush stage V).
    public var isBilateralECT: Bool
    public var doses: [DoseStep]
    public var start: Date
    public var stop: Date?
    /// Fraction of doses taken as prescribed, 0...1; nil when not recorded.
    public var adherence: Double?
    public var outcome: TrialOutcome?
    /// Psychotherapy sessions attended.
    public var sessions: Int?

    public init(
        kind: TrialKind, drug: String? = nil, isBilateralECT: Bool = false, doses: [DoseStep] = [],
        start: Date, stop: Date? = nil, adherence: Double? = nil, outcome: TrialOutcome? = nil, sessions: Int? = nil
    ) {
        self.kind = kind
        self.drug = drug
        self.isBilateralECT = isBilateralECT
        self.doses = doses
        self.start = start
        self.stop = stop
        self.adherence = adherence
        self.outcome = outcome
        self.sessions = sessions
    }
}

/// Settings of the trial rules; defaults from docs/domain.md.
public struct TrialRules: Sendable, Equatable, Codable {
    /// Weeks at or above the minimum adequate dose for an adequate trial.
    public var adequateWeeks: Double = 6
    /// Below this adherence a trial was not "taken as prescribed".
    public var minimumAdherence: Double = 0.8
    /// A trial stopped for intolerance before this many weeks is not a failed adequate trial.
    public var earlyIntoleranceWeeks: Double = 4
    /// Psychotherapy sessions for an adequate psychotherapy trial.
    public var adequatePsychotherapySessions: Int = 8
    /// Failed adequate trials that make depression treatment-resistant.
    public var trdFailedTrials: Int = 2
    /// The stricter definition: the failed trials must be of that many different classes.
    public var trdRequiresDifferentClasses: Bool = false

    public init() {}
}

public struct AdequacyAssessment: Sendable, Equatable, Codable {
    public var isAdequate: Bool
    public var weeksAtAdequateDose: Double
    public var drugClass: DrugClass?
    /// Why the trial is or is not adequate, in a clinician's words.
    public var reason: String
    public var inputs: RuleInputs
}

public struct TrialError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

private let secondsPerWeek = 7.0 * 86_400

extension TrialRules {
    /// Is the trial adequate as of `asOf` (its stop date when it has stopped)?
    public func adequacy(of trial: TrialFacts, doseTable: DoseTable, asOf: Date) throws(TrialError)
        -> AdequacyAssessment
    {
        let end = min(trial.stop ?? asOf, asOf)
        let weeksOnTrial = max(0, end.timeIntervalSince(trial.start) / secondsPerWeek)
        var inputs = RuleInputs([("kind", trial.kind.rawValue), ("weeks on trial", format(weeksOnTrial))])

        switch trial.kind {
        case .psychotherapy:
            let sessions = trial.sessions ?? 0
            inputs.add("sessions", "\(sessions)")
            inputs.add("adequate at", "\(adequatePsychotherapySessions) sessions")
            let adequate = sessions >= adequatePsychotherapySessions
            return AdequacyAssessment(
                isAdequate: adequate, weeksAtAdequateDose: weeksOnTrial, drugClass: nil,
                reason: adequate
                    ? "\(sessions) sessions" : "only \(sessions) of \(adequatePsychotherapySessions) sessions",
                inputs: inputs)
        case .neuromodulation:
            let adequate = trial.outcome != .intolerance && trial.outcome != .stoppedEarly && trial.stop != nil
            return AdequacyAssessment(
                isAdequate: adequate, weeksAtAdequateDose: weeksOnTrial, drugClass: nil,
                reason: adequate ? "course completed" : "course not completed", inputs: inputs)
        case .medication, .augmentation:
            break
        }

        guard let drug = trial.drug, let entry = doseTable.entry(for: drug) else {
            throw TrialError("\(trial.drug ?? "no drug") is not in the dose table; add it before recording the trial")
        }
        inputs.add("drug", entry.drug)
        inputs.add("class", entry.drugClass.rawValue)
        inputs.add("minimum adequate dose", "\(format(entry.minimumAdequateDailyDoseMg)) mg/day")

        let weeksAtDose = weeksAtOrAbove(entry.minimumAdequateDailyDoseMg, trial.doses, until: end)
        inputs.add("weeks at adequate dose", format(weeksAtDose))
        inputs.add("adequate at", "\(format(adequateWeeks)) weeks")
        if let adherence = trial.adherence { inputs.add("adherence", "\(Int((adherence * 100).rounded()))%") }

        if trial.outcome == .intolerance, weeksOnTrial < earlyIntoleranceWeeks {
            inputs.add("stopped for intolerance before", "\(format(earlyIntoleranceWeeks)) weeks")
            return AdequacyAssessment(
                isAdequate: false, weeksAtAdequateDose: weeksAtDose, drugClass: entry.drugClass,
                reason: "stopped for intolerance after \(format(weeksOnTrial)) weeks: recorded, not an adequate trial",
                inputs: inputs)
        }
        if let adherence = trial.adherence, adherence < minimumAdherence {
            return AdequacyAssessment(
                isAdequate: false, weeksAtAdequateDose: weeksAtDose, drugClass: entry.drugClass,
                reason: "not taken as prescribed (adherence \(Int((adherence * 100).rounded()))%)", inputs: inputs)
        }
        let adequate = weeksAtDose >= adequateWeeks - 1e-9
        return AdequacyAssessment(
            isAdequate: adequate, weeksAtAdequateDose: weeksAtDose, drugClass: entry.drugClass,
            reason: adequate
                ? "\(format(weeksAtDose)) weeks at or above \(format(entry.minimumAdequateDailyDoseMg)) mg/day"
                : """
                only \(format(weeksAtDose)) of \(format(adequateWeeks)) weeks at or above \
                \(format(entry.minimumAdequateDailyDoseMg)) mg/day
                """,
            inputs: inputs)
    }

    private func weeksAtOrAbove(_ minimum: Double, _ doses: [DoseStep], until end: Date) -> Double {
        let steps = doses.sorted { $0.from < $1.from }
        var seconds = 0.0
        for (index, step) in steps.enumerated() where step.dailyDoseMg >= minimum {
            let stepEnd = min(index + 1 < steps.count ? steps[index + 1].from : end, end)
            seconds += max(0, stepEnd.timeIntervalSince(step.from))
        }
        return seconds / secondsPerWeek
    }

    /// The trial's outcome from scores, when the clinician has not recorded one: the drop from
    /// the score before the trial to the score after it.
    public func derivedOutcome(before: Score, after: Score, responseRules: ResponseRules = ResponseRules())
        throws(MeasurementError) -> TrialOutcome
    {
        switch try responseRules.assess(baseline: before, latest: after).category {
        case .remission, .response: .response
        case .partialResponse: .partialResponse
        case .nonResponse: .nonResponse
        }
    }

    /// A failed trial: adequate, and ended in non-response or partial response.
    public func isFailure(_ trial: TrialFacts, adequacy: AdequacyAssessment) -> Bool {
        adequacy.isAdequate && (trial.outcome == .nonResponse || trial.outcome == .partialResponse)
    }
}

func format(_ value: Double) -> String {
    let rounded = (value * 10).rounded() / 10
    return rounded == rounded.rounded() ? String(Int(rounded)) : String(format: "%.1f", rounded)
}

import Foundation

/// A failed adequate trial as staging sees it.
public struct FailedTrial: Sendable, Equatable, Codable {
    public var kind: TrialKind
    public var drugClass: DrugClass?
    public var isBilateralECT: Bool

    public init(kind: TrialKind, drugClass: DrugClass?, isBilateralECT: Bool = false) {
        self.kind = kind
        self.drugClass = drugClass
        self.isBilateralECT = isBilateralECT
    }
}

public struct TRDStatus: Sendable, Equatable, Codable {
    public var isTRD: Bool
    public var failedTrials: Int
    public var distinctClasses: Int
    public var inputs: RuleInputs
}

extension TrialRules {
    /// Treatment-resistant depression: at least `trdFailedTrials` failed adequate antidepressant
    /// trials in the current episode; with `trdRequiresDifferentClasses`, of that many classes.
    public func trdStatus(failed: [FailedTrial]) -> TRDStatus {
        let counted = failed.filter { $0.kind.countsTowardsTRD }
        let classes = Set(counted.compactMap(\.drugClass))
        let isTRD = trdRequiresDifferentClasses ? classes.count >= trdFailedTrials : counted.count >= trdFailedTrials
        let inputs = RuleInputs([
            ("failed adequate trials", "\(counted.count)"),
            ("classes", classes.map(\.inWords).sorted().joined(separator: ", ")),
            ("threshold", "\(trdFailedTrials)"),
            ("different classes required", trdRequiresDifferentClasses ? "yes" : "no"),
        ])
        return TRDStatus(isTRD: isTRD, failedTrials: counted.count, distinctClasses: classes.count, inputs: inputs)
    }
}

/// Thase-Rush staging. I: one class failed; II: a second, different class; III: II plus a
/// tricyclic (a third class); IV: III plus an MAOI (a fourth); V: IV plus bilateral ECT.
public enum ThaseRushStage: Int, Sendable, Codable, Comparable, CaseIterable {
    case none = 0, stageI, stageII, stageIII, stageIV, stageV

    public static func < (lhs: ThaseRushStage, rhs: ThaseRushStage) -> Bool { lhs.rawValue < rhs.rawValue }

    public var label: String {
        ["none", "I", "II", "III", "IV", "V"][rawValue]
    }
}

public struct ThaseRushAssessment: Sendable, Equatable, Codable {
    public var stage: ThaseRushStage
    public var inputs: RuleInputs
}

public enum Staging {
    public static func thaseRush(failed: [FailedTrial]) -> ThaseRushAssessment {
        let classes = Set(failed.filter { $0.kind.countsTowardsTRD }.compactMap(\.drugClass))
        let tricyclic = classes.contains(.tca)
        let maoi = classes.contains(.maoi)
        let bilateralECT = failed.contains { $0.isBilateralECT }
        var stage = ThaseRushStage.none
        if classes.count >= 1 { stage = .stageI }
        if classes.count >= 2 { stage = .stageII }
        if classes.count >= 3, tricyclic { stage = .stageIII }
        if stage == .stageIII, classes.count >= 4, maoi { stage = .stageIV }
        if stage == .stageIV, bilateralECT { stage = .stageV }
        let inputs = RuleInputs([
            ("classes failed", classes.map(\.inWords).sorted().joined(separator: ", ")),
            ("tricyclic failed", tricyclic ? "yes" : "no"), ("MAOI failed", maoi ? "yes" : "no"),
            ("bilateral ECT failed", bilateralECT ? "yes" : "no"),
        ])
        return ThaseRushAssessment(stage: stage, inputs: inputs)
    }

    /// Maudsley Staging Method: duration 1-3, severity 1-5, failed medications 1-5,
    /// augmentation +1, ECT +1; total 3-15 (mild 3-6, moderate 7-10, severe 11-15).
    public static func maudsley(_ facts: MaudsleyFacts) -> MaudsleyAssessment {
        let months = facts.asOf.timeIntervalSince(facts.episodeStart) / (365.25 / 12 * 86_400)
        let duration = months <= 12 ? 1 : months <= 24 ? 2 : 3
        let severity = facts.severity.rawValue
        let failures: Int =
            switch facts.failedMedications {
            case ...2: 1
            case 3...4: 2
            case 5...6: 3
            case 7...10: 4
            default: 5
            }
        let augmentation = facts.augmentationUsed ? 1 : 0
        let ect = facts.ectUsed ? 1 : 0
        let total = duration + severity + failures + augmentation + ect
        let band: MaudsleyBand = total <= 6 ? .mild : total <= 10 ? .moderate : .severe
        let inputs = RuleInputs([
            ("episode months", format(months)), ("duration score", "\(duration)"),
            ("severity", "\(facts.severity.label) (\(severity))"),
            ("failed medications", "\(facts.failedMedications) (\(failures))"),
            ("augmentation", facts.augmentationUsed ? "used (+1)" : "not used"),
            ("ECT", facts.ectUsed ? "used (+1)" : "not used"),
        ])
        return MaudsleyAssessment(
            total: total, band: band, duration: duration, severity: severity,
            failures: failures, augmentation: augmentation, ect: ect, inputs: inputs)
    }
}

public enum MaudsleySeverity: Int, Sendable, Codable, CaseIterable {
    case subsyndromal = 1, mild, moderate, severeWithoutPsychosis, severeWithPsychosis

    public var label: String {
        switch self {
        case .subsyndromal: "subsyndromal"
        case .mild: "mild"
        case .moderate: "moderate"
        case .severeWithoutPsychosis: "severe without psychosis"
        case .severeWithPsychosis: "severe with psychosis"
        }
    }

    /// From a PHQ-9 (or MADRS) severity band; psychotic features make severe "with psychosis".
    public static func from(_ score: Score, psychoticFeatures: Bool = false) -> MaudsleySeverity {
        switch score.severity {
        case .minimal: return .subsyndromal
        case .mild: return .mild
        case .moderate: return .moderate
        case .moderatelySevere, .severe: return psychoticFeatures ? .severeWithPsychosis : .severeWithoutPsychosis
        }
    }
}

public struct MaudsleyFacts: Sendable, Equatable, Codable {
    public var episodeStart: Date
    public var asOf: Date
    public var severity: MaudsleySeverity
    public var failedMedications: Int
    public var augmentationUsed: Bool
    public var ectUsed: Bool

    public init(
        episodeStart: Date, asOf: Date, severity: MaudsleySeverity, failedMedications: Int, augmentationUsed: Bool,
        ectUsed: Bool
    ) {
        self.episodeStart = episodeStart
        self.asOf = asOf
        self.severity = severity
        self.failedMedications = failedMedications
        self.augmentationUsed = augmentationUsed
        self.ectUsed = ectUsed
    }
}

public enum MaudsleyBand: String, Sendable, Codable {
    case mild, moderate, severe
}

public struct MaudsleyAssessment: Sendable, Equatable, Codable {
    public var total: Int
    public var band: MaudsleyBand
    public var duration: Int
    public var severity: Int
    public var failures: Int
    public var augmentation: Int
    public var ect: Int
    public var inputs: RuleInputs
}

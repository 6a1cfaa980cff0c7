import Foundation

// What happened, in a clinician's words (docs/domain.md, "Handoffs"): a handoff's cause, a
// patient's timeline, the report. Never an event code or a key=value dump.

extension EventType {
    /// A short name for what happened: "Failed trial", "Score recorded".
    public var inWords: String {
        switch self {
        case .teamCreated: "Team created"
        case .memberCreated: "Member added"
        case .memberRemoved: "Member taken off the team"
        case .memberRolesChanged: "Member's roles changed"
        case .tokenIssued: "Token issued"
        case .tokenRevoked: "Token revoked"
        case .patientEnrolled: "Enrolled"
        case .patientStatusChanged: "Status changed"
        case .trdReached: "Treatment-resistant depression"
        case .trdWithdrawn: "No longer treatment-resistant"
        case .carePlanUpdated: "Care plan updated"
        case .taskCreated: "Task added"
        case .taskAssigned: "Task assigned"
        case .taskClaimed: "Task claimed"
        case .taskStarted: "Task started"
        case .taskHeld: "Task on hold"
        case .taskResumed: "Task resumed"
        case .taskCompleted: "Task done"
        case .taskCancelled: "Task cancelled"
        case .taskFailed: "Task could not be done"
        case .taskReleased: "Task back in its pool"
        case .noteAdded: "Note"
        case .noteAmended: "Note amended"
        case .noteEnteredInError: "Note entered in error"
        case .measurementRecorded: "Score"
        case .measurementEnteredInError: "Score entered in error"
        case .trialStarted: "Trial started"
        case .trialDoseChanged: "Dose changed"
        case .trialOutcomeRecorded: "Trial outcome"
        case .trialFailed: "Failed trial"
        case .trialOutcomeEnteredInError: "Trial outcome entered in error"
        case .trialEnteredInError: "Trial entered in error"
        case .referralMade: "Referral"
        case .referralStatusChanged: "Referral moved"
        case .referralEnteredInError: "Referral entered in error"
        case .handoffCreated: "Handoff"
        case .handoffAcknowledged: "Handoff acknowledged"
        case .handoffEscalated: "Overdue handoff"
        case .handoffReassigned: "Handoff reassigned"
        case .handoffSuperseded: "Handoff closed as superseded"
        case .handoffCauseAdded: "Handoff: one more cause"
        case .priorAuthSubmitted: "Prior authorisation submitted"
        case .teamTimeZoneChanged: "Time zone changed"
        case .priorAuthApproved: "Prior authorisation approved"
        case .priorAuthDenied: "Prior authorisation denied"
        }
    }
}

extension TrialOutcome {
    /// "non-response", "partial response", "stopped early".
    public var inWords: String {
        switch self {
        case .response: "response"
        case .partialResponse: "partial response"
        case .nonResponse: "non-response"
        case .intolerance: "intolerance"
        case .stoppedEarly: "stopped early"
        }
    }
}

extension DrugClass {
    /// As clinicians write it: SSRI, SNRI, TCA; multimodal, melatonergic.
    public var inWords: String { rawValue.count <= 5 ? rawValue.uppercased() : rawValue }
}

public enum Wording {
    /// A change from baseline as clinicians say it: "46% better", "6% worse", "no better" (the
    /// improvement is the drop as a fraction of baseline; negative is worse).
    public static func change(_ improvement: Double) -> String {
        let points = Int((improvement * 100).rounded())
        return points > 0 ? "\(points)% better" : points < 0 ? "\(-points)% worse" : "no better"
    }

    /// "12 weeks", "1 week", "3.5 weeks".
    public static func weeks(_ value: Double) -> String {
        let rounded = (value * 2).rounded() / 2
        let text = rounded == rounded.rounded() ? String(Int(rounded)) : String(format: "%.1f", rounded)
        return "\(text) week\(rounded == 1 ? "" : "s")"
    }

    /// "150 mg", "37.5 mg".
    public static func dose(_ mg: Double) -> String {
        mg == mg.rounded() ? "\(Int(mg)) mg" : String(format: "%g mg", mg)
    }

    /// A failed trial as its cause reads: "venlafaxine, non-response after 12 weeks at 150 mg";
    /// "CBT, non-response after 9 sessions"; an ECT course, "course not completed".
    public static func failedTrial(
        _ facts: TrialFacts, treatment: String, outcome: TrialOutcome, adequacy: AdequacyAssessment
    ) -> String {
        let weeks = (facts.stop ?? facts.start).timeIntervalSince(facts.start) / (7 * 86_400)
        switch facts.kind {
        case .psychotherapy:
            return "\(treatment), \(outcome.inWords) after \(facts.sessions ?? 0) sessions"
        case .neuromodulation:
            return "\(treatment), \(outcome.inWords) (\(adequacy.reason))"
        case .medication, .augmentation:
            let dose = facts.doses.sorted { $0.from < $1.from }.last.map { " at " + Self.dose($0.dailyDoseMg) } ?? ""
            return "\(treatment), \(outcome.inWords) after \(Self.weeks(weeks))\(dose)"
        }
    }

    /// "2 failed adequate trials in 2 classes (SNRI, SSRI)".
    public static func treatmentResistance(failedTrials: Int, classes: [DrugClass]) -> String {
        let names = Set(classes.map(\.inWords)).sorted()
        return "\(failedTrials) failed adequate trial\(failedTrials == 1 ? "" : "s") in \(names.count) class"
            + (names.count == 1 ? "" : "es") + (names.isEmpty ? "" : " (\(names.joined(separator: ", ")))")
    }
}

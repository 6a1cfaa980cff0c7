import Foundation

/// Why a patient is on the weekly case review, in the order the meeting takes them
/// (docs/domain.md, "The weekly case review").
public enum ReviewReasonKind: String, Sendable, Codable, CaseIterable {
    case safety
    case newPatient = "new-patient"
    case notImproving = "not-improving"
    case newlyTRD = "newly-trd"
    case failedTrial = "failed-trial"
    case referral
    case overdue
    case noContact = "no-contact"
    case remission

    /// 1 is discussed first.
    public var rank: Int {
        switch self {
        case .safety: 1
        case .newPatient: 2
        case .notImproving, .newlyTRD: 3
        case .failedTrial, .referral: 4
        case .overdue: 5
        case .noContact: 6
        case .remission: 7
        }
    }

    /// The report's section: kinds of the same rank are discussed together, under one heading
    /// that names them all (docs/domain.md, "The weekly case review").
    public var section: String {
        switch self {
        case .notImproving, .newlyTRD: "Not improving or newly treatment-resistant"
        case .failedTrial, .referral: "Failed trial or referral this week"
        default: heading
        }
    }

    public var heading: String {
        switch self {
        case .safety: "Safety signal"
        case .newPatient: "New patient"
        case .notImproving: "Not improving"
        case .newlyTRD: "Newly treatment-resistant"
        case .failedTrial: "Failed trial"
        case .referral: "Referral"
        case .overdue: "Overdue"
        case .noContact: "No contact"
        case .remission: "Remission"
        }
    }
}

public struct ReviewReason: Sendable, Codable, Equatable {
    public var kind: ReviewReasonKind
    public var text: String

    public init(kind: ReviewReasonKind, text: String) {
        self.kind = kind
        self.text = text
    }
}

/// The week a review covers: from its Monday to `asOf` (its end, or now while it runs), on the
/// team's calendar (docs/time-zones.md): its days (enrolment, "last contact") are the zone's.
public struct ReviewWindow: Sendable, Equatable {
    public var start: Date
    public var asOf: Date
    public var calendar: LocalCalendar

    public init(start: Date, asOf: Date, calendar: LocalCalendar = .utc) {
        self.start = start
        self.asOf = asOf
        self.calendar = calendar
    }

    func contains(_ date: Date) -> Bool { date >= start && date < asOf }
}

/// What the review knows of one patient: gathered by the store, judged here.
public struct ReviewFacts: Sendable, Equatable {
    public struct DatedScore: Sendable, Equatable {
        public var total: Int
        public var takenAt: Date
        /// Item 9 above 0; nil where not known (a baseline or latest score read on its own).
        public var safetySignal: Bool?
        public init(total: Int, takenAt: Date, safetySignal: Bool? = nil) {
            self.total = total
            self.takenAt = takenAt
            self.safetySignal = safetySignal
        }
    }

    public struct Trial: Sendable, Equatable {
        public var kind: TrialKind
        /// The drug, the therapy, or the kind.
        public var name: String
        public var drug: String?
        public var therapy: String?
        public var outcome: String?
        public var isFailed: Bool
        public var drugClass: DrugClass?
        public var isBilateralECT: Bool
        public var startedOn: Date
        public var stoppedOn: Date?
        /// When its outcome was last recorded (a failure counts from then).
        public var updatedAt: Date

        public init(
            kind: TrialKind, name: String, drug: String? = nil, therapy: String? = nil, outcome: String? = nil,
            isFailed: Bool = false, drugClass: DrugClass? = nil,
            isBilateralECT: Bool = false, startedOn: Date, stoppedOn: Date? = nil, updatedAt: Date
        ) {
            self.kind = kind
            self.name = name
            self.drug = drug
            self.therapy = therapy
            self.outcome = outcome
            self.isFailed = isFailed
            self.drugClass = drugClass
            self.isBilateralECT = isBilateralECT
            self.startedOn = startedOn
            self.stoppedOn = stoppedOn
            self.updatedAt = updatedAt
        }
    }

    public struct Referral: Sendable, Equatable {
        public var kind: String
        public var status: String
        public var targetClinic: String
        public var createdAt: Date
        /// Where its latest prior-authorisation packet stands (drafted, submitted, approved,
        /// denied) and since when; nil when none was made.
        public var authorisation: PriorAuthStatus?
        public var authorisationSince: Date?

        public init(
            kind: String, status: String, targetClinic: String, createdAt: Date, authorisation: PriorAuthStatus? = nil,
            authorisationSince: Date? = nil
        ) {
            self.kind = kind
            self.status = status
            self.targetClinic = targetClinic
            self.createdAt = createdAt
            self.authorisation = authorisation
            self.authorisationSince = authorisationSince
        }
    }

    public var enrolledOn: Date
    public var episodeStart: Date
    public var status: PatientStatus
    public var psychoticFeatures: Bool
    /// The episode's first PHQ-9 and the latest, before `asOf`.
    public var baseline: DatedScore?
    public var latest: DatedScore?
    /// A PHQ-9 this week with item 9 above 0.
    public var safetySignalThisWeek: Bool
    /// An urgent safety handoff nobody has acknowledged.
    public var unacknowledgedSafetyHandoff: Bool
    /// Trials of the current episode, and any still running, oldest first.
    public var trials: [Trial]
    /// Open referrals, and those made this week.
    public var referrals: [Referral]
    public var overdueHandoffs: Int
    public var overdueTasks: Int
    /// The latest score or non-psychotherapy note.
    public var lastContact: Date?

    public init(
        enrolledOn: Date, episodeStart: Date? = nil, status: PatientStatus = .active, psychoticFeatures: Bool = false,
        baseline: DatedScore? = nil, latest: DatedScore? = nil, safetySignalThisWeek: Bool = false,
        unacknowledgedSafetyHandoff: Bool = false, trials: [Trial] = [], referrals: [Referral] = [],
        overdueHandoffs: Int = 0, overdueTasks: Int = 0, lastContact: Date? = nil
    ) {
        self.enrolledOn = enrolledOn
        self.episodeStart = episodeStart ?? enrolledOn
        self.status = status
        self.psychoticFeatures = psychoticFeatures
        self.baseline = baseline
        self.latest = latest
        self.safetySignalThisWeek = safetySignalThisWeek
        self.unacknowledgedSafetyHandoff = unacknowledgedSafetyHandoff
        self.trials = trials
        self.referrals = referrals
        self.overdueHandoffs = overdueHandoffs
        self.overdueTasks = overdueTasks
        self.lastContact = lastContact
    }
}

/// The review's own numbers; the response, remission and TRD rules are the ones the rest of the
/// domain uses (`ResponseRules`, `Instrument.remissionBelow`, `TrialRules`).
public struct ReviewRules: Sendable, Equatable {
    public var response: ResponseRules
    public var trials: TrialRules
    /// "Not improving" is judged from this week of treatment on.
    public var notImprovingFromWeek = 8
    /// No score or note for this long is "no contact".
    public var noContactAfter: TimeInterval = 28 * 86_400

    public init(response: ResponseRules = ResponseRules(), trials: TrialRules = TrialRules()) {
        self.response = response
        self.trials = trials
    }
}

/// One patient as the review judges them.
public struct ReviewAssessment: Sendable, Equatable {
    public var weeksInTreatment: Int
    /// Against the episode's baseline, when a later PHQ-9 exists.
    public var response: ResponseAssessment?
    public var trd: TRDStatus
    /// TRD reached this week (not at the week's start).
    public var becameTRD: Bool
    public var thaseRush: ThaseRushAssessment
    public var maudsley: MaudsleyAssessment?
    /// Every trial not stopped, oldest first: a medication and its augmentation run together.
    public var ongoingTrials: [ReviewFacts.Trial]
    /// The trial running now, if any: the newest of `ongoingTrials`.
    public var currentTrial: ReviewFacts.Trial? { ongoingTrials.last }
    public var isNew: Bool
    /// Why the patient is listed, most pressing first; empty: not listed.
    public var reasons: [ReviewReason]

    public var isListed: Bool { !reasons.isEmpty }
}

public enum WeeklyReview {
    static let week: TimeInterval = 7 * 86_400

    /// Whether and why a patient is on this week's review (docs/domain.md, "The weekly case
    /// review"), with the clinical figures the report shows beside the reasons.
    public static func assess(_ facts: ReviewFacts, window: ReviewWindow, rules: ReviewRules = ReviewRules())
        -> ReviewAssessment
    {
        let asOf = window.asOf
        let calendar = window.calendar
        // Enrolment is a date: it began at midnight on the team's calendar, and weeks in treatment
        // count the team's days.
        let enrolledAt = calendar.midnight(of: facts.enrolledOn)
        let weeks = max(0, calendar.days(from: facts.enrolledOn, to: calendar.today(at: asOf)) / 7)

        var response: ResponseAssessment?
        if let baseline = facts.baseline, let latest = facts.latest, latest.takenAt > baseline.takenAt,
            let first = try? Score(.phq9, total: baseline.total), let last = try? Score(.phq9, total: latest.total)
        {
            response = try? rules.response.assess(baseline: first, latest: last)
        }

        func failed(before cutoff: Date) -> [FailedTrial] {
            facts.trials.filter { $0.isFailed && $0.startedOn >= facts.episodeStart && $0.updatedAt < cutoff }
                .map { FailedTrial(kind: $0.kind, drugClass: $0.drugClass, isBilateralECT: $0.isBilateralECT) }
        }
        let failedNow = failed(before: asOf)
        let trd = rules.trials.trdStatus(failed: failedNow)
        let becameTRD = trd.isTRD && !rules.trials.trdStatus(failed: failed(before: window.start)).isTRD
        var maudsley: MaudsleyAssessment?
        if let baseline = facts.baseline, let score = try? Score(.phq9, total: baseline.total) {
            maudsley = Staging.maudsley(
                MaudsleyFacts(
                    episodeStart: facts.episodeStart, asOf: asOf,
                    severity: MaudsleySeverity.from(score, psychoticFeatures: facts.psychoticFeatures),
                    failedMedications: failedNow.filter { $0.kind == .medication }.count,
                    augmentationUsed: facts.trials.contains { $0.kind == .augmentation },
                    ectUsed: facts.trials.contains { $0.kind == .neuromodulation && $0.isBilateralECT }))
        }
        let isNew = window.contains(enrolledAt)

        var reasons: [ReviewReason] = []
        if facts.safetySignalThisWeek {
            reasons.append(.init(kind: .safety, text: "PHQ-9 item 9 above 0 this week"))
        } else if facts.unacknowledgedSafetyHandoff {
            reasons.append(.init(kind: .safety, text: "an urgent safety assessment is not acknowledged"))
        }
        if isNew { reasons.append(.init(kind: .newPatient, text: "enrolled \(DayText.format(facts.enrolledOn))")) }
        if weeks >= rules.notImprovingFromWeek, let response, !response.isResponse,
            let baseline = facts.baseline, let latest = facts.latest
        {
            // "25% better (under 50%)"; "10% worse" and "no better" need no threshold beside them.
            let change =
                Wording.change(response.improvement)
                + ((response.improvement * 100).rounded() > 0 ? " (under \(percent(rules.response.responseDrop)))" : "")
            reasons.append(
                .init(kind: .notImproving, text: "week \(weeks): PHQ-9 \(baseline.total) → \(latest.total), \(change)"))
        }
        if becameTRD {
            reasons.append(
                .init(
                    kind: .newlyTRD,
                    text: "met treatment-resistant depression this week: \(trd.failedTrials) failed adequate trials"))
        }
        for trial in facts.trials where trial.isFailed && window.contains(trial.updatedAt) {
            reasons.append(.init(kind: .failedTrial, text: "\(trial.name) trial failed (\(trial.outcome ?? "failed"))"))
        }
        for referral in facts.referrals where referral.createdAt >= window.start {
            reasons.append(
                .init(
                    kind: .referral,
                    text: "\(referral.kind.uppercased()) referral to \(referral.targetClinic) (\(referral.status))"))
        }
        if facts.overdueHandoffs + facts.overdueTasks > 0 {
            let parts = [
                facts.overdueHandoffs > 0
                    ? "\(facts.overdueHandoffs) handoff\(facts.overdueHandoffs == 1 ? "" : "s")" : nil,
                facts.overdueTasks > 0 ? "\(facts.overdueTasks) task\(facts.overdueTasks == 1 ? "" : "s")" : nil,
            ].compactMap { $0 }
            reasons.append(.init(kind: .overdue, text: parts.joined(separator: " and ") + " overdue"))
        }
        if let last = facts.lastContact, asOf.timeIntervalSince(last) >= rules.noContactAfter {
            reasons.append(
                .init(
                    kind: .noContact,
                    text:
                        """
                        no contact for \(Int(asOf.timeIntervalSince(last) / week)) weeks (last \
                        \(calendar.dayText(last)))
                        """
                ))
        } else if facts.lastContact == nil, asOf.timeIntervalSince(enrolledAt) >= rules.noContactAfter {
            reasons.append(.init(kind: .noContact, text: "no contact recorded since enrolment \(weeks) weeks ago"))
        }
        if let response, response.isRemission, facts.status != .relapsePrevention, let latest = facts.latest {
            reasons.append(
                .init(
                    kind: .remission, text: "PHQ-9 \(latest.total): in remission, ready for a relapse-prevention plan"))
        }
        reasons.sort { $0.kind.rank < $1.kind.rank }

        return ReviewAssessment(
            weeksInTreatment: weeks, response: response, trd: trd, becameTRD: becameTRD,
            thaseRush: Staging.thaseRush(failed: failedNow),
            maudsley: maudsley, ongoingTrials: facts.trials.filter { $0.stoppedOn == nil }, isNew: isNew,
            reasons: reasons)
    }

    static func percent(_ fraction: Double) -> String { "\(Int((fraction * 100).rounded()))%" }
}

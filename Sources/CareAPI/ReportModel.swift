import CareDomain
import CareStore
import CoreFormats
import Foundation

// The weekly report as the API shows it, made of the store's `TeamWeekReview` (the facts and the
// domain's judgement of them). JSON: `ReportJSON` writes it by hand (the Codable encoding below
// is the reference a test holds it to); HTML, Markdown and CSV: `ReportRendering`.

/// Why a patient is on the report: the domain's reasons (CareDomain/WeeklyReview.swift).
typealias ReportReasonKind = ReviewReasonKind
typealias ReportReason = ReviewReason

struct ReportScore: Sendable, Encodable, Equatable {
    var total: Int
    var takenAt: Date
    /// Item 9 above 0 (given for the trend's points).
    var safetySignal: Bool? = nil

    /// The PHQ-9 severity band by its usual name ("moderately severe").
    var severity: String { Score.band(.phq9, total: total) }

    /// The API's snake_case, spelled out (the report is encoded without key conversion).
    enum CodingKeys: String, CodingKey { case total, takenAt = "taken_at", severity, safetySignal = "safety_signal" }

    init(total: Int, takenAt: Date, safetySignal: Bool? = nil) {
        self.total = total
        self.takenAt = takenAt
        self.safetySignal = safetySignal
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(total, forKey: .total)
        try c.encode(takenAt, forKey: .takenAt)
        try c.encode(severity, forKey: .severity)
        try c.encodeIfPresent(safetySignal, forKey: .safetySignal)
    }
}

struct ReportTrial: Sendable, Encodable, Equatable {
    var kind: String
    var drug: String?
    var therapy: String?
    var startedOn: Date
    var weeks: Int

    /// The API's snake_case, spelled out (the report is encoded without key conversion).
    enum CodingKeys: String, CodingKey { case kind, drug, therapy, startedOn = "started_on", weeks }
}

struct ReportHandoff: Sendable, Encodable, Equatable {
    var role: String
    /// What to do (its task's title); `reason` says why.
    var title: String
    var reason: String
    var dueAt: Date
    var overdue: Bool
    var escalated: Bool

    /// The API's snake_case, spelled out (the report is encoded without key conversion).
    enum CodingKeys: String, CodingKey { case role, title, reason, dueAt = "due_at", overdue, escalated }
}

struct ReportTask: Sendable, Encodable, Equatable {
    var title: String
    var status: String
    var priority: String
    var assignee: String
    var dueAt: Date?
    var overdue: Bool

    /// The API's snake_case, spelled out (the report is encoded without key conversion).
    enum CodingKeys: String, CodingKey { case title, status, priority, assignee, dueAt = "due_at", overdue }
}

struct ReportReferral: Sendable, Encodable, Equatable {
    var kind: String
    var status: String
    var targetClinic: String
    var createdAt: Date
    /// Where its prior authorisation stands (drafted, submitted, approved, denied), since when,
    /// and for how many whole days at the report's time (docs/prior-authorisation.md).
    var authorisation: String? = nil
    var authorisationSince: Date? = nil
    var authorisationDays: Int? = nil

    /// The API's snake_case, spelled out (the report is encoded without key conversion).
    enum CodingKeys: String, CodingKey {
        case kind, status, targetClinic = "target_clinic", createdAt = "created_at", authorisation,
            authorisationSince = "authorisation_since", authorisationDays = "authorisation_days"
    }

    /// Waiting on the payer: a packet made or submitted and not yet decided.
    var awaitingAuthorisation: Bool { authorisation == "drafted" || authorisation == "submitted" }
}

struct ReportPatient: Sendable, Encodable, Equatable {
    /// Written in lower case, as the API writes ids.
    var id: LowercaseID
    var mrn: String
    var displayName: String
    var status: String
    var enrolledOn: Date
    var weeksInTreatment: Int
    /// The reasons it is listed, most pressing first; `rank` is the first one's.
    var reasons: [ReportReason]
    var rank: Int
    /// PHQ-9: the first of the current episode and the latest by the report's time.
    var baseline: ReportScore?
    var latest: ReportScore?
    /// Improvement from baseline, a fraction (0.5 = 50% lower); nil without two scores.
    var change: Double?
    /// The last PHQ-9 scores (up to 12), oldest first.
    var trend: [ReportScore]
    var currentTrial: ReportTrial?
    /// Every trial not stopped, oldest first (a medication and its augmentation); nil in
    /// snapshots kept before it was added.
    var ongoingTrials: [ReportTrial]?
    var isTRD: Bool
    var failedTrials: Int
    var thaseRushStage: String
    var maudsleyTotal: Int?
    var maudsleyBand: String?
    var openHandoffs: [ReportHandoff]
    var openTasks: [ReportTask]
    var referrals: [ReportReferral]
    var lastContact: Date?

    /// The API's snake_case, spelled out (the report is encoded without key conversion).
    enum CodingKeys: String, CodingKey {
        case id, mrn, displayName = "display_name", status, enrolledOn = "enrolled_on", weeksInTreatment =
            "weeks_in_treatment", reasons, rank, baseline, latest, change, trend, currentTrial = "current_trial",
            ongoingTrials = "ongoing_trials", isTRD = "is_trd", failedTrials = "failed_trials",
            thaseRushStage = "thase_rush_stage", maudsleyTotal = "maudsley_total", maudsleyBand = "maudsley_band",
            openHandoffs = "open_handoffs", openTasks = "open_tasks", referrals, lastContact = "last_contact"
    }
}

struct ReportCaseload: Sendable, Encodable, Equatable {
    /// Patients on the team, enrolled by the report's time and not discharged.
    var size: Int
    /// Of them, those with a baseline and a later PHQ-9 (the rates' denominator).
    var measured: Int
    var responders: Int
    var remitters: Int
    var responseRate: Double?
    var remissionRate: Double?
    /// Scores recorded and notes written this week (psychotherapy notes not counted).
    var contactsThisWeek: Int
    var newPatients: Int
    var handoffsProduced: Int
    var handoffsAcknowledgedOnTime: Int
    var handoffsAcknowledgedLate: Int
    var handoffsUnacknowledged: Int
    /// Patients listed for a decision.
    var listed: Int
    /// Referrals waiting on a payer (a packet drafted or submitted, not decided), and the
    /// longest wait in whole days (docs/prior-authorisation.md).
    var awaitingAuthorisation: Int = 0
    var longestAuthorisationWaitDays: Int? = nil

    /// The API's snake_case, spelled out (the report is encoded without key conversion).
    enum CodingKeys: String, CodingKey {
        case size, measured, responders, remitters, responseRate = "response_rate", remissionRate = "remission_rate",
            contactsThisWeek = "contacts_this_week", newPatients = "new_patients", handoffsProduced =
            "handoffs_produced", handoffsAcknowledgedOnTime = "handoffs_acknowledged_on_time",
            handoffsAcknowledgedLate = "handoffs_acknowledged_late", handoffsUnacknowledged = "handoffs_unacknowledged",
            listed, awaitingAuthorisation = "awaiting_authorisation",
            longestAuthorisationWaitDays = "longest_authorisation_wait_days"
    }
}

/// The weekly case-review report of one team for one ISO week.
struct WeeklyReport: Sendable, Encodable, Equatable {
    var teamId: LowercaseID
    var teamName: String
    var isoWeek: String
    var weekStart: Date
    var weekEnd: Date
    /// The team's time zone: the week runs from Monday 00:00 to Monday 00:00 there.
    var timeZone: String = "UTC"
    /// The time the report describes: the week's end, or now for the current week.
    var asOf: Date
    var generatedAt: Date
    var caseload: ReportCaseload
    /// The patients who need a decision, most pressing first.
    var patients: [ReportPatient]

    /// The API's snake_case, spelled out (the report is encoded without key conversion).
    enum CodingKeys: String, CodingKey {
        case teamId = "team_id", teamName = "team_name", isoWeek = "iso_week", weekStart = "week_start", weekEnd =
            "week_end", asOf = "as_of", generatedAt = "generated_at", caseload, patients, timeZone = "time_zone"
    }
}

extension ReportPatient {
    init(_ patient: ReviewedPatient, window: ReviewWindow) {
        let calendar = window.calendar
        let assessment = patient.assessment
        let facts = patient.facts
        let score = { (s: ReviewFacts.DatedScore) in
            ReportScore(total: s.total, takenAt: s.takenAt, safetySignal: s.safetySignal)
        }
        let trial = { (t: ReviewFacts.Trial) in
            ReportTrial(
                kind: t.kind.rawValue, drug: t.drug, therapy: t.therapy, startedOn: t.startedOn,
                weeks: max(0, calendar.days(from: t.startedOn, to: calendar.today(at: window.asOf)) / 7))
        }
        self.init(
            id: LowercaseID(patient.id), mrn: patient.mrn, displayName: patient.displayName,
            status: patient.status.rawValue,
            enrolledOn: facts.enrolledOn, weeksInTreatment: assessment.weeksInTreatment, reasons: assessment.reasons,
            rank: assessment.reasons.first?.kind.rank ?? Int.max, baseline: facts.baseline.map(score),
            latest: facts.latest.map(score), change: assessment.response?.improvement, trend: patient.trend.map(score),
            currentTrial: assessment.currentTrial.map(trial), ongoingTrials: assessment.ongoingTrials.map(trial),
            isTRD: assessment.trd.isTRD, failedTrials: assessment.trd.failedTrials,
            thaseRushStage: assessment.thaseRush.stage.label, maudsleyTotal: assessment.maudsley?.total,
            maudsleyBand: assessment.maudsley?.band.rawValue,
            openHandoffs: patient.openHandoffs.map {
                ReportHandoff(
                    role: $0.role.rawValue, title: $0.title, reason: $0.reason, dueAt: $0.dueAt, overdue: $0.overdue,
                    escalated: $0.escalated)
            },
            openTasks: patient.openTasks.map {
                ReportTask(
                    title: $0.title, status: $0.status.rawValue, priority: $0.priority.rawValue, assignee: $0.assignee,
                    dueAt: $0.dueAt, overdue: $0.overdue)
            },
            referrals: facts.referrals.map {
                ReportReferral(
                    kind: $0.kind, status: $0.status, targetClinic: $0.targetClinic, createdAt: $0.createdAt,
                    authorisation: $0.authorisation?.rawValue, authorisationSince: $0.authorisationSince,
                    authorisationDays: $0.authorisationSince.map {
                        max(0, Int(window.asOf.timeIntervalSince($0) / 86_400))
                    })
            },
            lastContact: facts.lastContact)
    }
}

extension WeeklyReport {
    /// The report of a team's week: the listed patients, most pressing first (then the longest
    /// in treatment, then by name), and the caseload's figures.
    init(_ review: TeamWeekReview) {
        var measured = 0, responders = 0, remitters = 0, newPatients = 0, contacts = 0
        var awaiting = 0
        var longestWait: Int?
        for patient in review.patients {
            for referral in patient.facts.referrals
            where referral.authorisation == .drafted || referral.authorisation == .submitted {
                awaiting += 1
                let days = referral.authorisationSince.map {
                    max(0, Int(review.window.asOf.timeIntervalSince($0) / 86_400))
                }
                longestWait = max(longestWait ?? 0, days ?? 0)
            }
            contacts += patient.contactsThisWeek
            if patient.assessment.isNew { newPatients += 1 }
            guard let response = patient.assessment.response else { continue }
            measured += 1
            if response.isResponse { responders += 1 }
            if response.isRemission { remitters += 1 }
        }
        let listed = review.listed.map { ReportPatient($0, window: review.window) }.sorted {
            ($0.rank, -$0.weeksInTreatment, $0.displayName) < ($1.rank, -$1.weeksInTreatment, $1.displayName)
        }
        let caseload = ReportCaseload(
            size: review.patients.count, measured: measured, responders: responders, remitters: remitters,
            responseRate: measured > 0 ? Double(responders) / Double(measured) : nil,
            remissionRate: measured > 0 ? Double(remitters) / Double(measured) : nil,
            contactsThisWeek: contacts, newPatients: newPatients, handoffsProduced: review.handoffsProduced,
            handoffsAcknowledgedOnTime: review.handoffsAcknowledgedOnTime,
            handoffsAcknowledgedLate: review.handoffsAcknowledgedLate,
            handoffsUnacknowledged: review.handoffsUnacknowledged, listed: listed.count,
            awaitingAuthorisation: awaiting, longestAuthorisationWaitDays: longestWait)
        self.init(
            teamId: LowercaseID(review.teamID), teamName: review.teamName, isoWeek: review.week.description,
            weekStart: review.weekStart,
            weekEnd: review.weekEnd, timeZone: review.timeZone, asOf: review.window.asOf,
            generatedAt: review.generatedAt, caseload: caseload,
            patients: listed)
    }
}

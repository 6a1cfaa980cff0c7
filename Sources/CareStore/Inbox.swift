import CareDomain
import CoreFormats
import Foundation
import PQ

/// What changed on a member's patients that they would want to know (docs/cli.md, "What's
/// new"): handoffs for their roles and new causes joining them, scores (a safety signal first),
/// trials started, dose changes, failed trials and treatment resistance, referrals and their
/// moves, notes by others. What the member did is left out.
public struct InboxItem: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case safety, handoff, score, trial, resistance, referral, note
    }
    public var eventID: Int64
    public var kind: Kind
    public var patientID: UUID
    public var patientName: String
    public var actorName: String?
    public var occurredAt: Date
    /// In words: "Failed trial: venlafaxine, non-response after 12 weeks at 150 mg".
    public var what: String
    /// About a safety signal: a score with one (kind `safety`), or a handoff that a safety signal
    /// made (the playbook's urgent safety assessment). These come first.
    public var safetySignal: Bool
}

extension CareStore {
    /// The caller's inbox since `since`, safety signals first (scores with one and the handoffs
    /// they made), then newest first; at most `limit`.
    public func inbox(since: Date, limit: Int = 200, by caller: Caller) async throws -> [InboxItem] {
        let limit = Self.clamp(limit)
        return try await command(caller) { context in
            let memberID = try Self.member(caller, "has an inbox")
            let teams = context.teams(allowing: .readClinical)
            // The playbook's steps for a safety signal (docs/domain.md, "Handoffs").
            let safetySteps = Set(
                try await context.referenceData().playbook.steps.filter { $0.condition == .safetySignal }.map(\.key))
            let rows = try await context.connection.query(
                """
                SELECT e.id, e.type, p.id, p.display_name, a.display_name, e.occurred_at,
                       h.reason, h.role, ms.instrument, ms.total, ms.safety_signal,
                       r.kind, r.target_clinic, r.status, e.payload->>'failed_trials', e.payload->>'classes',
                       n.kind, left(split_part(n.body, E'\\n', 1), 120), coalesce(t.drug, t.therapy, t.kind), t.outcome,
                       ms.taken_at, tm.time_zone, ht.title, h.step_key, t.kind,
                       coalesce(e.payload->>'daily_dose_mg', t.dose_steps->0->>'dailyDoseMg'), hc.summary
                FROM patients p JOIN teams tm ON tm.id = p.team_id
                JOIN LATERAL (
                    SELECT * FROM events e WHERE e.patient_id = p.id AND e.occurred_at > \(since)
                      AND e.type IN ('handoff.created', 'handoff.cause_added', 'measurement.recorded', 'trial.started',
                                     'trial.dose_changed',
                                     'trial.failed', 'patient.trd_reached', 'referral.made',
                                     'referral.status_changed', 'note.added')
                      AND e.actor_id IS DISTINCT FROM \(memberID)
                    ORDER BY e.id DESC LIMIT \(limit)
                ) e ON true
                LEFT JOIN members a ON a.id = e.actor_id
                LEFT JOIN handoffs h ON e.type IN ('handoff.created', 'handoff.cause_added')
                     AND h.id = (e.payload->>'handoff_id')::uuid
                LEFT JOIN handoff_causes hc ON e.type = 'handoff.cause_added' AND hc.handoff_id = h.id
                     AND hc.event_id = (e.payload->>'cause_event_id')::bigint
                LEFT JOIN tasks ht ON ht.id = h.task_id
                LEFT JOIN measurements ms ON e.type = 'measurement.recorded' AND ms.id =
                    (e.payload->>'measurement_id')::uuid
                LEFT JOIN referrals r ON e.type IN ('referral.made', 'referral.status_changed')
                     AND r.id = (e.payload->>'referral_id')::uuid
                LEFT JOIN notes n ON e.type = 'note.added' AND n.id = (e.payload->>'note_id')::uuid
                LEFT JOIN trials t ON e.type IN ('trial.started', 'trial.dose_changed', 'trial.failed')
                     AND t.id = (e.payload->>'trial_id')::uuid
                WHERE p.team_id = ANY(\(teams)) AND p.status <> 'discharged'
                  AND (e.type NOT IN ('handoff.created', 'handoff.cause_added') OR EXISTS (
                       SELECT 1 FROM memberships ms WHERE ms.member_id = \(memberID) AND ms.team_id = p.team_id AND
                           ms.role = h.role))
                  AND (e.type <> 'measurement.recorded' OR ms.entered_in_error_at IS NULL)
                  AND (e.type <> 'note.added' OR n.id IS NOT NULL)
                  AND (e.type NOT IN ('trial.started', 'trial.dose_changed') OR t.entered_in_error_at IS NULL)
                ORDER BY e.id DESC LIMIT \(limit)
                """)
            var items: [InboxItem] = []
            for row in rows {
                let (id, typeText, patientID, patientName, actor, at) = try row.decode(
                    Int64.self, String.self, UUID.self, String.self, String?.self, Date.self)
                let (reason, role, instrument, total, signal) = try (
                    row.decode(String?.self, at: 6), row.decode(String?.self, at: 7), row.decode(String?.self, at: 8),
                    row.decode(Int?.self, at: 9), row.decode(Bool?.self, at: 10)
                )
                let (kind, clinic, status, failed, classes) = try (
                    row.decode(String?.self, at: 11), row.decode(String?.self, at: 12),
                    row.decode(String?.self, at: 13),
                    row.decode(String?.self, at: 14), row.decode(String?.self, at: 15)
                )
                let (noteKind, firstLine) = try (row.decode(String?.self, at: 16), row.decode(String?.self, at: 17))
                let (treatment, outcome) = try (row.decode(String?.self, at: 18), row.decode(String?.self, at: 19))
                let type = try EventType(column: "events.type", typeText)
                let item: (InboxItem.Kind, String)
                var safetySignal = false
                switch type {
                case .handoffCreated:
                    // What to do and why, as the queue says it (its task's title, then its cause).
                    let title = try row.decode(String?.self, at: 22)
                    safetySignal = try row.decode(String?.self, at: 23).map(safetySteps.contains) ?? false
                    item = (
                        .handoff,
                        "For the \((role ?? "").replacingOccurrences(of: "_", with: " ")): "
                            + [title, reason].compactMap { $0 }.joined(separator: " — ")
                    )
                case .handoffCauseAdded:
                    // One more cause on an open handoff for my role: "Another cause for the social
                    // worker's handoff: Screen for barriers ... (3 causes) — Failed trial: CBT, ...".
                    let title = try row.decode(String?.self, at: 22)
                    let cause = try row.decode(String?.self, at: 26)
                    item = (
                        .handoff,
                        "Another cause for the \((role ?? "").replacingOccurrences(of: "_", with: " "))'s handoff: "
                            + [title, cause ?? reason].compactMap { $0 }.joined(separator: " — ")
                    )
                case .measurementRecorded:
                    guard let instrument, let total, let parsed = Instrument(rawValue: instrument) else { continue }
                    let safety = signal == true
                    safetySignal = safety
                    // A score recorded on another day than it was taken says when it was taken,
                    // on the team's calendar (docs/time-zones.md).
                    let calendar = LocalCalendar(identifier: try row.decode(String.self, at: 21))
                    let taken = try row.decode(Date?.self, at: 20).map(calendar.dayText)
                    item = (
                        safety ? .safety : .score,
                        "Score: \(instrument) \(total) (\(Score.band(parsed, total: total)))"
                            + (safety ? ", item 9 above 0: a safety signal" : "")
                            + (taken.map { $0 == calendar.dayText(at) ? "" : ", taken \($0)" } ?? "")
                    )
                case .trialStarted, .trialDoseChanged:
                    // "Trial started: aripiprazole 5 mg a day (augmentation)"; "Dose changed: sertraline
                    // to 150 mg a day".
                    let trialKind = try row.decode(String?.self, at: 24)
                    let dose = try row.decode(String?.self, at: 25).flatMap(Double.init).map {
                        "\($0.plainText) mg a day"
                    }
                    let words =
                        type == .trialStarted
                        ? [treatment ?? "a trial", dose].compactMap { $0 }.joined(separator: " ")
                            + (trialKind == TrialKind.augmentation.rawValue ? " (augmentation)" : "")
                        : "\(treatment ?? "a trial")" + (dose.map { " to \($0)" } ?? "")
                    item = (.trial, "\(type.inWords): \(words)")
                case .trialFailed:
                    let ended = outcome.flatMap(TrialOutcome.init(rawValue:))?.inWords
                    item = (.trial, "\(type.inWords): \(treatment ?? "a trial")" + (ended.map { ", \($0)" } ?? ""))
                case .trdReached:
                    item = (
                        .resistance,
                        "\(type.inWords): \(failed ?? "?") failed adequate trials in \(classes ?? "?") classes"
                    )
                case .referralMade, .referralStatusChanged:
                    let what = "\((kind ?? "").uppercased()) referral to \(clinic ?? "?")"
                    item = (
                        .referral,
                        type == .referralMade
                            ? "\(type.inWords): \(what)" : "\(type.inWords): \(what) is \(status ?? "?")"
                    )
                case .noteAdded:
                    item = (.note, "\((noteKind ?? "").capitalized) note: \(firstLine ?? "")")
                default:
                    continue
                }
                items.append(
                    InboxItem(
                        eventID: id, kind: item.0, patientID: patientID, patientName: patientName, actorName: actor,
                        occurredAt: at, what: item.1, safetySignal: safetySignal))
            }
            context.trail.touch(items.map(\.patientID))
            context.trail.skipWhenNoPatient = true
            return items.sorted { ($0.safetySignal ? 0 : 1, -$0.eventID) < ($1.safetySignal ? 0 : 1, -$1.eventID) }
        }
    }
}

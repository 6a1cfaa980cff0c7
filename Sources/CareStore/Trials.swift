import CoreFormats
import CareDomain
import Foundation
import PQ

/// A trial as stored: dose steps are JSON in the trials row.
struct StoredDoseStep: Codable, Sendable {
    var from: Date
    var dailyDoseMg: Double
}

extension CareStore {
    /// Starts a trial. What cannot be true is refused, naming the field: a drug not in the dose
    /// table (with close matches), a dose above its maximum without `highDoseReason`, a start in
    /// the future or long before enrolment.
    public func startTrial(
        patientID: UUID, kind: TrialKind, drug: String?, dailyDoseMg: Double?, startedOn: Date,
        therapy: String? = nil, highDoseReason: String? = nil, by caller: Caller
    ) async throws -> UUID {
        return try await command(caller) { context in
            let actorID = caller.memberID
            // The patient and the event's id in one round trip; the duplicate check under the
            // patient's lock in a second; the trial and its event go with COMMIT.
            let patient = try await context.patient(patientID, for: .startTrial(kind), reservingEvents: 1)
            let reference = try await context.referenceData()
            var drugName: String?
            var steps: [StoredDoseStep] = []
            var acceptedHighDose: String?
            if kind == .medication || kind == .augmentation {
                guard let drug else {
                    throw StoreError.invalidValue(
                        InvalidValue(
                            field: "drug", message: "a \(kind.rawValue) trial needs a drug from the dose table"))
                }
                guard let dose = dailyDoseMg else {
                    throw StoreError.invalidValue(
                        InvalidValue(
                            field: "daily_dose_mg", message: "a \(kind.rawValue) trial needs a daily dose in mg"))
                }
                let entry = try context.checked { () throws(InvalidValue) in try reference.doseTable.known(drug) }
                try context.checked { () throws(InvalidValue) in
                    try reference.doseTable.checkDose(dose, of: entry, highDoseReason: highDoseReason)
                }
                if let maximum = entry.maximumDailyDoseMg, dose > maximum { acceptedHighDose = highDoseReason }
                drugName = entry.drug
                steps = [StoredDoseStep(from: startedOn, dailyDoseMg: dose)]
            }
            try context.checked { () throws(InvalidValue) in
                try reference.recordRules.checkDay(
                    startedOn, field: "started_on", now: Date(), enrolledOn: patient.enrolledOn,
                    calendar: patient.calendar)
            }
            // The same drug (or therapy) still running is a duplicate, not a second trial: its dose
            // changes on the running trial (docs/domain.md, "One running trial of a treatment at a
            // time"). The patient's row lock makes two concurrent starts take turns, so the second
            // sees the first.
            await context.connection.sendWithNext("SELECT 1 FROM patients WHERE id = \(patientID) FOR UPDATE")
            let running = try await context.connection.query(
                """
                SELECT id, coalesce(drug, therapy), started_on FROM trials
                WHERE patient_id = \(patientID) AND outcome IS NULL AND entered_in_error_at IS NULL
                  AND (drug = \(drugName) OR lower(therapy) = lower(\(therapy)))
                ORDER BY started_on LIMIT 1
                """)
            if let row = running.firstRow {
                let (existing, name, since) = try row.decode(UUID.self, String.self, Date.self)
                throw StoreError.alreadyOpen(
                    """
                    a \(name) trial (started \(DayText.format(since))) is still running for this patient: change its \
                    dose, or record its outcome (or mark it entered in error) before starting another
                    """,
                    existing: "/v1/trials/\(existing.lowercasedString)")
            }
            let id = UUID.random()
            await context.connection.sendWithNext(
                """
                INSERT INTO trials (id, patient_id, kind, drug, therapy, dose_steps, started_on, recorded_by,
                    high_dose_reason)
                VALUES (\(id), \(patientID), \(kind.rawValue), \(drugName), \(therapy), \(PQJSON(steps))::jsonb,
                    \(startedOn)::date, \(actorID), \(acceptedHighDose))
                """)
            try await context.append(
                EventType.trialStarted, teamID: patient.teamID, patientID: patientID, actorID: actorID,
                payload: ["trial_id": id.lowercasedString, "kind": kind.rawValue, "drug": drugName ?? ""])
            return id
        }
    }

    /// A dose change during a medication trial (titration up or down) from `from` on; the trial
    /// as it now stands (its adequacy as of today).
    @discardableResult
    public func changeTrialDose(
        trialID: UUID, dailyDoseMg: Double, from: Date, highDoseReason: String? = nil, by caller: Caller
    ) async throws -> TrialSummary {
        try await command(caller) { context in
            let actorID = caller.memberID
            let rows = try await context.connection.query(
                """
                SELECT t.patient_id, p.team_id, t.kind, t.dose_steps, t.started_on, t.outcome, t.drug,
                    t.entered_in_error_at, p.enrolled_on, tm.time_zone
                FROM trials t JOIN patients p ON p.id = t.patient_id JOIN teams tm ON tm.id = p.team_id
                WHERE t.id = \(trialID) FOR UPDATE OF t
                """)
            guard let row = rows.firstRow else { throw StoreError.notFound("trial \(trialID)") }
            let (patientID, teamID, kind, steps, startedOn, outcome, drug, marked, enrolledOn) = try row.decode(
                UUID.self, UUID.self, String.self, PQJSON<[StoredDoseStep]>.self, Date.self, String?.self, String?.self,
                Date?.self, Date.self)
            try context.authorize(.startMedicationTrial, teamID: teamID, patientID: patientID)
            guard kind == TrialKind.medication.rawValue || kind == TrialKind.augmentation.rawValue, let drug else {
                throw StoreError.invalid("only medication and augmentation trials have doses")
            }
            if marked != nil { throw StoreError.conflict("trial \(trialID) was entered in error") }
            guard outcome == nil else { throw StoreError.conflict("trial \(trialID) has ended (\(outcome ?? ""))") }
            let reference = try await context.referenceData()
            let entry = try context.checked { () throws(InvalidValue) in try reference.doseTable.known(drug) }
            try context.checked { () throws(InvalidValue) in
                try reference.doseTable.checkDose(dailyDoseMg, of: entry, highDoseReason: highDoseReason)
            }
            let calendar = LocalCalendar(identifier: try row.decode(String.self, at: 9))
            try context.checked { () throws(InvalidValue) in
                try reference.recordRules.checkDay(
                    from, field: "from", now: Date(), enrolledOn: enrolledOn, calendar: calendar)
                try reference.recordRules.checkOrder(
                    start: startedOn, stop: from, field: "from", startName: "started_on")
            }
            let updated =
                (steps.value.filter { $0.from < from } + [StoredDoseStep(from: from, dailyDoseMg: dailyDoseMg)]).sorted
            { $0.from < $1.from }
            await context.connection.sendWithNext(
                "UPDATE trials SET dose_steps = \(PQJSON(updated))::jsonb, updated_at = now() WHERE id = \(trialID)")
            try await context.append(
                .trialDoseChanged, teamID: teamID, patientID: patientID, actorID: actorID,
                payload: ["trial_id": trialID.lowercasedString, "daily_dose_mg": "\(dailyDoseMg)"])
            // The trial as it now is, read after the update (sent with it).
            guard
                let trial = try await context.loadTrials(patientID: patientID, reference: reference, asOf: Date())
                    .map(\.summary).first(where: { $0.id == trialID })
            else { throw StoreError.notFound("trial \(trialID)") }
            return trial
        }
    }

    public struct OutcomeResult: Sendable, Equatable {
        /// As recorded, or as derived from the PHQ-9 scores.
        public var outcome: TrialOutcome
        public var adequacy: AdequacyAssessment
        public var isFailure: Bool
        public var trdReached: Bool
        public var events: [AppendedEvent]
    }

    /// Records how a trial ended. A failed adequate trial appends trial.failed (and its handoffs);
    /// crossing the TRD threshold appends patient.trd_reached. The trial and the patient are
    /// locked, so concurrent recordings give one outcome, one trial.failed, one set of handoffs.
    /// With no `outcome`, it is derived from the PHQ-9 before the trial and the last one by its stop.
    public func recordTrialOutcome(
        trialID: UUID, outcome recorded: TrialOutcome?, stoppedOn: Date, adherence: Double? = nil,
        sessions: Int? = nil, stopReason: String? = nil, by caller: Caller
    ) async throws -> OutcomeResult {
        if let adherence, !(0...1).contains(adherence) {
            throw StoreError.invalidValue(
                InvalidValue(
                    field: "adherence", message: "adherence is a share of doses taken, from 0 to 1",
                    accepted: ["0 to 1"]))
        }
        return try await command(caller) { context in
            let actorID = caller.memberID
            let reference = try await context.referenceData()
            // The events this is likely to append, trial.outcome_recorded and trial.failed (a
            // patient.trd_reached is rare and appends without a reserved id).
            let likelyEvents = 2
            let sharedSteps = reference.playbook.onePerPatientSteps(for: [EventType.trialFailed, .trdReached])
            // One round trip for the trial and its patient (locked), the patient's failed trials so
            // far, the patient's open handoffs that a failure would join (read under that lock)
            // and the events' ids: the rest goes with COMMIT (docs/architecture.md, "The path of
            // a write").
            let results = try await context.connection.pipeline([
                """
                SELECT t.patient_id, p.team_id, t.kind, t.drug, t.dose_steps, t.started_on, t.outcome, t.sessions,
                    t.is_bilateral_ect,
                       t.entered_in_error_at, p.enrolled_on, t.therapy, tm.time_zone
                FROM trials t JOIN patients p ON p.id = t.patient_id JOIN teams tm ON tm.id = p.team_id WHERE t.id =
                    \(trialID)
                FOR UPDATE OF t, p
                """, CommandContext.failedTrials(ofPatientOfTrial: trialID),
                CommandContext.openHandoffs(
                    patient: "(SELECT patient_id FROM trials WHERE id = \(trialID))", steps: sharedSteps),
                CommandContext.reservingEvents(likelyEvents),
            ])
            guard let row = results[0].firstRow else { throw StoreError.notFound("trial \(trialID)") }
            let (
                patientID, teamID, kindText, drug, steps, startedOn, existing, storedSessions, bilateral, marked,
                enrolledOn, therapy
            ) = try row.decode(
                UUID.self, UUID.self, String.self, String?.self, PQJSON<[StoredDoseStep]>.self, Date.self, String?.self,
                Int?.self, Bool.self,
                Date?.self, Date.self, String?.self)
            guard let kind = TrialKind(rawValue: kindText) else {
                throw PQError(.decoding, "trial \(trialID) has an unknown kind \(kindText)")
            }
            try context.authorize(.recordOutcome(kind), teamID: teamID, patientID: patientID)
            try context.keepOpenHandoffs(results[2], patientID: patientID, steps: sharedSteps)
            try context.keepReservedEvents(results[3])
            if marked != nil {
                throw StoreError.conflict(
                    "trial \(trialID.lowercasedString) was entered in error; record a new trial instead")
            }
            if let existing {
                throw StoreError.conflict(
                    """
                    the outcome of trial \(trialID.lowercasedString) is already recorded as \(existing); if it is \
                    wrong, mark it entered in error first
                    """
                )
            }

            let calendar = LocalCalendar(identifier: try row.decode(String.self, at: 12))
            try context.checked { () throws(InvalidValue) in
                try reference.recordRules.checkDay(
                    stoppedOn, field: "stopped_on", now: Date(), enrolledOn: enrolledOn, calendar: calendar)
                try reference.recordRules.checkOrder(
                    start: startedOn, stop: stoppedOn, field: "stopped_on", startName: "started_on")
            }
            let rules = reference.trialRules
            let before = try CommandContext.failedTrials(results[1])
            let outcome: TrialOutcome
            if let recorded {
                outcome = recorded
            } else {
                outcome = try await context.outcomeFromScores(
                    patientID: patientID, start: startedOn, stop: stoppedOn, rules: reference)
            }

            if let sessions, sessions < 0 {
                throw StoreError.invalidValue(InvalidValue(field: "sessions", message: "sessions cannot be negative"))
            }
            let sessions = sessions ?? storedSessions
            let facts = TrialFacts(
                kind: kind, drug: drug, isBilateralECT: bilateral,
                doses: steps.value.map { DoseStep(from: $0.from, dailyDoseMg: $0.dailyDoseMg) },
                start: startedOn, stop: stoppedOn, adherence: adherence, outcome: outcome, sessions: sessions)
            let adequacy: AdequacyAssessment
            do {
                adequacy = try rules.adequacy(of: facts, doseTable: reference.doseTable, asOf: stoppedOn)
            } catch let error as TrialError {
                throw StoreError.invalidValue(
                    InvalidValue(
                        field: "drug", message: error.description,
                        accepted: reference.doseTable.suggestions(for: drug ?? "")))
            }
            let failed = rules.isFailure(facts, adequacy: adequacy)
            // Queued: goes to the server with COMMIT, as the events do.
            await context.connection.sendWithNext(
                """
                UPDATE trials SET outcome = \(outcome.rawValue), stopped_on = \(stoppedOn)::date, adherence =
                    \(adherence),
                    stop_reason = \(stopReason), is_failed = \(failed), sessions = \(sessions), outcome_recorded_by =
                        \(actorID), updated_at = now()
                WHERE id = \(trialID)
                """)
            var events = [
                try await context.append(
                    EventType.trialOutcomeRecorded, teamID: teamID, patientID: patientID, actorID: actorID,
                    payload: [
                        "trial_id": trialID.lowercasedString, "outcome": outcome.rawValue,
                        "adequate": adequacy.isAdequate ? "true" : "false",
                    ])
            ]
            var trdReached = false
            if failed {
                let summary = Wording.failedTrial(
                    facts, treatment: drug ?? therapy ?? kind.rawValue, outcome: outcome, adequacy: adequacy)
                events.append(
                    try await context.append(
                        EventType.trialFailed, teamID: teamID, patientID: patientID, actorID: actorID,
                        payload: ["trial_id": trialID.lowercasedString]
                    ) { occurredAt in
                        PlaybookEvent(
                            type: EventType.trialFailed, occurredAt: occurredAt, summary: summary, subjectID: trialID)
                    })

                let after = before + [FailedTrial(kind: kind, drugClass: adequacy.drugClass, isBilateralECT: bilateral)]
                let wasTRD = rules.trdStatus(failed: before).isTRD
                let status = rules.trdStatus(failed: after)
                if status.isTRD, !wasTRD {
                    trdReached = true
                    events.append(
                        try await context.append(
                            EventType.trdReached, teamID: teamID, patientID: patientID, actorID: actorID,
                            payload: [
                                "failed_trials": "\(status.failedTrials)", "classes": "\(status.distinctClasses)",
                            ]
                        ) { occurredAt in
                            PlaybookEvent(
                                type: EventType.trdReached, occurredAt: occurredAt,
                                summary: Wording.treatmentResistance(
                                    failedTrials: status.failedTrials, classes: after.compactMap(\.drugClass)),
                                subjectID: patientID)
                        })
                }
            }
            return OutcomeResult(
                outcome: outcome, adequacy: adequacy, isFailure: failed, trdReached: trdReached, events: events)
        }
    }
}

extension CommandContext {
    /// The outcome the PHQ-9 scores show: the last score on or before the start against the last
    /// one on or before the stop.
    func outcomeFromScores(patientID: UUID, start: Date, stop: Date, rules: ReferenceData) async throws -> TrialOutcome
    {
        let rows = try await connection.query(
            """
            SELECT (SELECT total FROM measurements WHERE patient_id = \(patientID) AND instrument = 'PHQ-9' AND
                entered_in_error_at IS NULL
                     AND taken_at < \(start)::date + 1 ORDER BY taken_at DESC LIMIT 1),
                   (SELECT total FROM measurements WHERE patient_id = \(patientID) AND instrument = 'PHQ-9' AND
                       entered_in_error_at IS NULL
                     AND taken_at > \(start)::date + 1 AND taken_at < \(stop)::date + 1 ORDER BY taken_at DESC LIMIT 1)
            """)
        let (before, after) = try rows[0].decode(Int?.self, Int?.self)
        guard let before, let after else {
            throw StoreError.invalid("no outcome given and no PHQ-9 both before and during the trial to derive it from")
        }
        return try rules.trialRules.derivedOutcome(
            before: Score(.phq9, total: before), after: Score(.phq9, total: after), responseRules: rules.responseRules)
    }

    /// The failed adequate trials in the current episode of the patient whose trial this is
    /// (read by `failedTrials(_:)`).
    static func failedTrials(ofPatientOfTrial trialID: UUID) -> PQQuery {
        """
        SELECT t.kind, d.drug_class, t.is_bilateral_ect, t.id FROM trials t
        JOIN patients p ON p.id = t.patient_id
        LEFT JOIN dose_table d ON d.drug = t.drug
        WHERE t.patient_id = (SELECT patient_id FROM trials WHERE id = \(trialID))
          AND t.is_failed AND t.entered_in_error_at IS NULL AND t.started_on >= coalesce(p.episode_started_on,
              p.enrolled_on)
        """
    }

    static func failedTrials(_ rows: PQRows) throws -> [FailedTrial] {
        try rows.map { row in
            let (kind, drugClass, bilateral) = try row.decode(String.self, String?.self, Bool.self)
            guard let kind = TrialKind(rawValue: kind) else {
                throw PQError(.decoding, "a trial has an unknown kind \(kind)")
            }
            return FailedTrial(
                kind: kind, drugClass: try drugClass.map { try DrugClass(column: "dose_table.drug_class", $0) },
                isBilateralECT: bilateral)
        }
    }
}

import CoreFormats
import CareDomain
import CareStore
import Foundation
import PQ
import Testing
import TestSupport

/// docs/domain.md, "Lifecycle and corrections", against the real database.
@Suite("Work that follows its cause, records that can be corrected", .timeLimit(.minutes(2)))
struct LifecycleTests {
    /// Each handoff of a referral or a trial, with its task's state.
    struct Work: Equatable {
        var step: String
        var status: String
        var reason: String?
        var supersededBy: Int64?
    }

    static func work(_ pool: PQPool, causedBy eventID: Int64) async throws -> [Work] {
        try await pool.query(
            """
            SELECT h.step_key, t.status, t.status_reason, h.superseded_by_event FROM handoffs h JOIN tasks t ON t.id =
                h.task_id
            WHERE h.event_id = \(eventID) ORDER BY h.step_key
            """
        ).map { row in
            let (step, status, reason, by) = try row.decode(String.self, String.self, String?.self, Int64?.self)
            return Work(step: step, status: status, reason: reason, supersededBy: by)
        }
    }

    static func lastEvent(_ pool: PQPool, _ type: String) async throws -> Int64 {
        try await pool.query("SELECT max(id) FROM events WHERE type = \(type)")[0].decode(Int64.self, at: 0)
    }

    /// Two adequate medication trials that failed, recorded in order (the second reaches TRD).
    static func twoFailedTrials(_ clinic: Clinic) async throws -> (UUID, UUID) {
        let first = try await clinic.store.startTrial(
            patientID: clinic.patient, kind: .medication, drug: "sertraline", dailyDoseMg: 100,
            startedOn: enrolmentDate, by: .system(actingFor: clinic.psychiatrist))
        _ = try await clinic.store.recordTrialOutcome(
            trialID: first, outcome: .nonResponse, stoppedOn: enrolmentDate.addingTimeInterval(56 * day),
            by: .system(actingFor: clinic.psychiatrist))
        let second = try await clinic.store.startTrial(
            patientID: clinic.patient, kind: .medication, drug: "venlafaxine", dailyDoseMg: 225,
            startedOn: enrolmentDate.addingTimeInterval(60 * day), by: .system(actingFor: clinic.psychiatrist))
        let result = try await clinic.store.recordTrialOutcome(
            trialID: second, outcome: .nonResponse, stoppedOn: enrolmentDate.addingTimeInterval(120 * day),
            by: .system(actingFor: clinic.psychiatrist))
        #expect(result.trdReached)
        return (first, second)
    }

    @Test(
        """
        a cancelled TMS referral supersedes exactly its open handoffs: done work stays done, another referral's stay \
        open
        """
    )
    func cancelledReferral() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let tms = try await clinic.store.makeReferral(
                patientID: clinic.patient, kind: .tms, targetClinic: "Lakeside TMS",
                by: .system(actingFor: clinic.psychiatrist))
            let ect = try await clinic.store.makeReferral(
                patientID: clinic.patient, kind: .ect, targetClinic: "City ECT",
                by: .system(actingFor: clinic.psychiatrist))
            // The psychiatrist has already screened for contraindications.
            let screen = try await pool.query(
                "SELECT id FROM handoffs WHERE event_id = \(tms.event.id) AND step_key = 'tms.contraindications'")[0]
                .decode(UUID.self, at: 0)
            try await clinic.store.completeTask(
                screen, evidence: "No implants", by: .system(actingFor: clinic.psychiatrist))

            let superseded = try await clinic.store.moveReferral(
                tms.referralID, to: .cancelled, reason: "the patient chose ECT",
                by: .system(actingFor: clinic.psychiatrist))
            let cancelEvent = try await Self.lastEvent(pool, EventType.referralStatusChanged.rawValue)
            let reason = "superseded: the TMS referral was cancelled"
            #expect(
                try await Self.work(pool, causedBy: tms.event.id) == [
                    Work(step: "tms.contraindications", status: "completed", reason: nil, supersededBy: nil),
                    Work(step: "tms.education", status: "cancelled", reason: reason, supersededBy: cancelEvent),
                    Work(
                        step: "tms.prior-authorisation", status: "cancelled", reason: reason,
                        supersededBy: cancelEvent),
                    Work(step: "tms.transport", status: "cancelled", reason: reason, supersededBy: cancelEvent),
                ])
            #expect(Set(superseded) == Set(tms.event.handoffIDs).subtracting([screen]))
            #expect(
                try await Self.work(pool, causedBy: ect.event.id).allSatisfy {
                    $0.status == "requested" && $0.supersededBy == nil
                })
            // One handoff.superseded event each, pointing at the cancellation; nothing deleted.
            let announced = try await pool.query(
                """
                SELECT payload->>'handoff_id', payload->>'by_event_id' FROM events WHERE type =
                    \(EventType.handoffSuperseded.rawValue)
                """
            ).map { try $0.decode(String.self, String.self) }
            #expect(
                Set(announced.map(\.0)) == Set(superseded.map(\.lowercasedString))
                    && announced.allSatisfy { $0.1 == String(cancelEvent) })
            #expect(try await clinic.count("handoffs", pool) == 7)
            // The social worker's open handoffs are ECT's only; the patient's summary agrees.
            let open = try await clinic.store.handoffs(by: .system(actingFor: clinic.socialWorker)).items
            #expect(open.map(\.stepKey) == ["ect.authorisation-transport"])
            let summary = try await clinic.store.patientSummary(
                clinic.patient, by: .system(actingFor: clinic.psychiatrist))
            #expect(Set(summary.openHandoffs.map(\.id)) == Set(ect.event.handoffIDs))
            // A superseded handoff is not acknowledged, nor escalated when its time passes.
            await #expect(throws: StoreError.self) {
                try await clinic.store.acknowledgeHandoff(superseded[0], by: .system(actingFor: clinic.socialWorker))
            }
            let escalated = try await clinic.store.escalateOverdueHandoffs(
                now: Date().addingTimeInterval(30 * day), by: .system())
            #expect(Set(escalated) == Set(ect.event.handoffIDs))
        }
    }

    @Test(
        """
        a trial outcome entered in error removes the TRD flag that depended on it, and the report no longer lists the \
        patient as newly TRD
        """
    )
    func outcomeEnteredInError() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let (first, second) = try await Self.twoFailedTrials(clinic)
            let week = ISOWeek(containing: Date())
            let before = try await clinic.store.weeklyReview(teamID: clinic.team, week: week, by: .system())
            #expect(
                before.listed.first { $0.id == clinic.patient }?.assessment.reasons.contains {
                    $0.kind == .newlyTRD
                } == true)
            #expect(
                try await clinic.store.patientSummary(clinic.patient, by: .system(actingFor: clinic.psychiatrist)).trd
                    .isTRD)
            // Each failure step's one task has both failures as causes, and the newer as its reason.
            let reasons = """
                SELECT h.reason FROM handoffs h WHERE h.step_key LIKE 'trial-failed.%' AND h.superseded_at IS NULL
                """
            let joined = try await pool.query(PQQuery(stringLiteral: reasons)).column(String.self)
            #expect(joined.count == 3 && joined.allSatisfy { $0.hasPrefix("Failed trial: venlafaxine") }, "\(joined)")

            let correction = try await clinic.store.markEnteredInError(
                .trialOutcome, id: second, reason: "recorded on the wrong trial",
                by: .system(actingFor: clinic.psychiatrist))
            #expect(correction.trdWithdrawn)
            // The TRD evaluation (the second failure's alone) is superseded; the failure's three
            // steps, each one per patient, stay open for the first failure, counting one cause again.
            let superseded = try await pool.query(
                """
                SELECT h.step_key FROM handoffs h WHERE h.id = ANY(\(correction.supersededHandoffIDs)) ORDER BY
                    h.step_key
                """
            ).column(String.self)
            #expect(superseded == ["trd.evaluate-neuromodulation"])
            let failureSteps = try await pool.query(
                """
                SELECT h.step_key, t.title, t.status, (SELECT count(*) FROM handoff_causes c WHERE c.handoff_id =
                    h.id AND c.withdrawn_at IS NULL)::int
                FROM handoffs h JOIN tasks t ON t.id = h.task_id WHERE h.step_key LIKE 'trial-failed.%'
                ORDER BY h.step_key
                """
            ).map { try $0.decode(String.self, String.self, String.self, Int.self) }
            #expect(
                failureSteps.map(\.0) == [
                    "trial-failed.barriers", "trial-failed.next-step", "trial-failed.psychotherapy-review",
                ])
            #expect(failureSteps.allSatisfy { $0.2 == "requested" && $0.3 == 1 && !$0.1.hasSuffix("causes)") })
            #expect(failureSteps[1].1 == "Plan the next treatment step: optimise, switch, augment or refer")
            // Their reason is the failure still standing again, not the one entered in error.
            let restored = try await pool.query(PQQuery(stringLiteral: reasons)).column(String.self)
            #expect(
                restored.count == 3 && restored.allSatisfy { $0.hasPrefix("Failed trial: sertraline") }, "\(restored)")

            let summary = try await clinic.store.patientSummary(
                clinic.patient, by: .system(actingFor: clinic.psychiatrist))
            #expect(!summary.trd.isTRD && summary.trd.failedTrials == 1)
            let corrected = try #require(summary.trials.first { $0.id == second })
            #expect(corrected.outcome == nil && !corrected.isFailed)
            #expect(
                corrected.withdrawnOutcomes.map(\.outcome) == ["non-response"]
                    && corrected.withdrawnOutcomes[0].reason == "recorded on the wrong trial")
            #expect(summary.trials.first { $0.id == first }?.isFailed == true)
            let after = try await clinic.store.weeklyReview(teamID: clinic.team, week: week, by: .system())
            #expect(
                after.listed.first { $0.id == clinic.patient }?.assessment.reasons.contains {
                    $0.kind == .newlyTRD
                } != true)
            #expect(after.patients.first { $0.id == clinic.patient }?.assessment.trd.isTRD != true)
            #expect(try await clinic.eventCount(pool, EventType.trialOutcomeEnteredInError.rawValue) == 1)
            #expect(try await clinic.eventCount(pool, EventType.trdWithdrawn.rawValue) == 1)

            // Marked twice: refused; and the right outcome can then be recorded.
            await #expect(throws: StoreError.conflict("this trial has no outcome recorded")) {
                try await clinic.store.markEnteredInError(
                    .trialOutcome, id: second, reason: "again", by: .system(actingFor: clinic.psychiatrist))
            }
            let redo = try await clinic.store.recordTrialOutcome(
                trialID: second, outcome: .response, stoppedOn: enrolmentDate.addingTimeInterval(120 * day),
                by: .system(actingFor: clinic.psychiatrist))
            #expect(!redo.isFailure && !redo.trdReached)
        }
    }

    @Test("two concurrent failed trials leave one open task per failure step for the patient, each with two causes")
    func concurrentFailures() async throws {
        try await MigratedDatabase.withPool { pool, database in
            let clinic = try await Clinic.make(pool)
            var trials: [UUID] = []
            for (drug, dose) in [("sertraline", 100.0), ("mirtazapine", 30.0)] {
                trials.append(
                    try await clinic.store.startTrial(
                        patientID: clinic.patient, kind: .medication, drug: drug, dailyDoseMg: dose,
                        startedOn: enrolmentDate, by: .system(actingFor: clinic.psychiatrist)))
            }
            // Hold the patient's row so that both recordings start, then wait on it together.
            let recordings = try await pool.withTransaction { holder in
                try await holder.query("SELECT 1 FROM patients WHERE id = \(clinic.patient) FOR UPDATE")
                let recordings = trials.map { trial in
                    Task {
                        try await clinic.store.recordTrialOutcome(
                            trialID: trial, outcome: .nonResponse,
                            stoppedOn: enrolmentDate.addingTimeInterval(70 * day),
                            by: .system(actingFor: clinic.psychiatrist))
                    }
                }
                let deadline = ContinuousClock.now + .seconds(30)
                // As the superuser: the server's role sees no other session's wait events.
                while try await database.superuser(
                    pool,
                    """
                    SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type =
                        'Lock'
                    """)[0].decode(Int.self, at: 0) < 2
                {
                    guard ContinuousClock.now < deadline else {
                        Issue.record("the two recordings never waited on the patient together"); break
                    }
                    try await Task.sleep(for: .milliseconds(10))
                }
                return recordings
            }
            var results: [CareStore.OutcomeResult] = []
            for recording in recordings { results.append(try await recording.value) }
            #expect(results.allSatisfy { $0.isFailure })
            #expect(results.filter { $0.trdReached }.count == 1)
            let open = try await pool.query(
                """
                SELECT h.id, t.title, (SELECT count(*) FROM handoff_causes c WHERE c.handoff_id = h.id AND
                    c.withdrawn_at IS NULL)::int
                FROM handoffs h JOIN tasks t ON t.id = h.task_id
                WHERE h.step_key = 'trial-failed.next-step' AND t.status NOT IN ('completed', 'cancelled', 'failed')
                """)
            #expect(open.count == 1)
            let (id, title, causes) = try open[0].decode(UUID.self, String.self, Int.self)
            #expect(causes == 2 && title.hasSuffix("(2 causes)"))
            // The task read on its own lists both causes.
            let detail = try await clinic.store.task(id, by: .system())
            #expect(
                detail.causes?.count == 2
                    && detail.causes?.allSatisfy { $0.withdrawnAt == nil && $0.summary.hasPrefix("Failed trial: ") }
                        == true
            )
            // Each cause names its trial, with the trial's kind (found from the event's payload).
            let named = detail.causes?.compactMap(\.record) ?? []
            #expect(named.count == 2 && trials.allSatisfy { named.contains(.trial($0, .medication)) }, "\(named)")
            // The failure's other two steps are one per patient too: one task each, two causes.
            let others = try await pool.query(
                """
                SELECT h.step_key, t.title FROM handoffs h JOIN tasks t ON t.id = h.task_id
                WHERE h.step_key IN ('trial-failed.barriers', 'trial-failed.psychotherapy-review') ORDER BY h.step_key
                """
            ).map { try $0.decode(String.self, String.self) }
            #expect(others.map(\.0) == ["trial-failed.barriers", "trial-failed.psychotherapy-review"])
            #expect(others.allSatisfy { $0.1.hasSuffix("(2 causes)") })
            #expect(try await clinic.eventCount(pool, EventType.handoffCauseAdded.rawValue) == 3)
        }
    }

    @Test("a safety score entered in error supersedes its same-day safety handoffs and leaves the summary and lists")
    func scoreEnteredInError() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let kept = try await clinic.store.recordMeasurement(
                patientID: clinic.patient, score: Score(.phq9, total: 16), takenAt: Date().addingTimeInterval(-day),
                by: .system(actingFor: clinic.psychologist))
            let wrong = try await clinic.store.recordMeasurement(
                patientID: clinic.patient, score: Score(.phq9, items: [3, 3, 3, 3, 3, 3, 3, 3, 2]),
                takenAt: Date(), by: .system(actingFor: clinic.psychologist))
            #expect(wrong.event.handoffIDs.count == 2)
            await #expect(
                throws: StoreError.invalidValue(
                    InvalidValue(field: "reason", message: "say why the score was entered in error"))
            ) {
                try await clinic.store.markEnteredInError(
                    .measurement, id: wrong.measurementID, reason: "  ", by: .system(actingFor: clinic.psychologist))
            }
            let correction = try await clinic.store.markEnteredInError(
                .measurement, id: wrong.measurementID, reason: "another patient's form",
                by: .system(actingFor: clinic.psychologist))
            #expect(Set(correction.supersededHandoffIDs) == Set(wrong.event.handoffIDs))
            let summary = try await clinic.store.patientSummary(
                clinic.patient, by: .system(actingFor: clinic.psychiatrist))
            #expect(summary.scores.map(\.id) == [kept.measurementID] && summary.openHandoffs.isEmpty)
            #expect(summary.scores[0].band == "moderately severe")
            #expect(
                try await clinic.store.measurements(patientID: clinic.patient, by: .system()).items.map(\.id) == [
                    kept.measurementID
                ])
            let all = try await clinic.store.measurements(
                patientID: clinic.patient, includeEnteredInError: true, by: .system()
            ).items
            #expect(
                all.count == 2 && all.last?.enteredInError?.reason == "another patient's form"
                    && all.last?.enteredInError?.by == clinic.psychologist)
            // The row stays; the mark is final.
            await #expect(throws: StoreError.self) {
                try await clinic.store.markEnteredInError(
                    .measurement, id: wrong.measurementID, reason: "again", by: .system(actingFor: clinic.psychologist))
            }
            await #expect(throws: PQError.self) {
                try await pool.query(
                    """
                    UPDATE measurements SET entered_in_error_at = NULL, entered_in_error_reason = NULL WHERE id = \
                    \(wrong.measurementID)
                    """
                )
            }
            #expect(try await clinic.count("measurements", pool) == 2)
        }
    }

    @Test("a discharge closes all open work with that reason; done work stays done")
    func discharge() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let referral = try await clinic.store.makeReferral(
                patientID: clinic.patient, kind: .ect, targetClinic: "City ECT",
                by: .system(actingFor: clinic.psychiatrist))
            let manual = try await clinic.store.createTask(
                patientID: clinic.patient, title: "Call the GP", poolRole: .socialWorker,
                by: .system(actingFor: clinic.psychiatrist))
            let done = try await clinic.store.createTask(
                patientID: clinic.patient, title: "Send the letter", poolRole: .socialWorker,
                by: .system(actingFor: clinic.psychiatrist))
            try await clinic.store.completeTask(done, by: .system(actingFor: clinic.socialWorker))
            try await clinic.store.changePatientStatus(
                clinic.patient, to: .active, by: .system(actingFor: clinic.psychiatrist))
            let closed = try await clinic.store.changePatientStatus(
                clinic.patient, to: .discharged, by: .system(actingFor: clinic.psychiatrist))
            #expect(Set(closed.handoffs) == Set(referral.event.handoffIDs) && closed.tasks == [manual])
            let statuses = try await pool.query("SELECT id, status, status_reason FROM tasks ORDER BY created_at").map {
                try $0.decode(UUID.self, String.self, String?.self)
            }
            for (id, status, reason) in statuses {
                if id == done {
                    #expect(status == "completed" && reason == nil)
                } else {
                    #expect(status == "cancelled" && reason?.hasSuffix("patient discharged") == true, "\(id)")
                }
            }
            #expect(try await clinic.eventCount(pool, EventType.handoffSuperseded.rawValue) == 3)
            #expect(
                try await pool.query(
                    """
                    SELECT count(*) FROM events WHERE type = 'task.cancelled' AND payload->>'reason' = 'patient \
                    discharged'
                    """
                )[0]
                .decode(Int.self, at: 0) == 1)
        }
    }

    @Test("a second open referral of the same kind is refused with a link to the open one, unless a reason is given")
    func duplicateReferral() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let first = try await clinic.store.makeReferral(
                patientID: clinic.patient, kind: .tms, targetClinic: "Lakeside TMS",
                by: .system(actingFor: clinic.psychiatrist))
            let handoffs = try await clinic.count("handoffs", pool)
            await #expect(
                throws: StoreError.alreadyOpen(
                    """
                    a TMS referral to Lakeside TMS is already open (requested); to make a second one, say why in \
                    'reason'
                    """,
                    existing: "/v1/referrals/\(first.referralID.lowercasedString)")
            ) {
                try await clinic.store.makeReferral(
                    patientID: clinic.patient, kind: .tms, targetClinic: "Hilltop TMS",
                    by: .system(actingFor: clinic.psychiatrist))
            }
            #expect(try await clinic.count("handoffs", pool) == handoffs)
            #expect(try await clinic.count("referrals", pool) == 1)
            // Another kind is no duplicate; a stated reason allows the second; a closed one does not count.
            _ = try await clinic.store.makeReferral(
                patientID: clinic.patient, kind: .ect, targetClinic: "City ECT",
                by: .system(actingFor: clinic.psychiatrist))
            _ = try await clinic.store.makeReferral(
                patientID: clinic.patient, kind: .tms, targetClinic: "Hilltop TMS", reason: "shorter waiting list",
                by: .system(actingFor: clinic.psychiatrist))
            #expect(
                try await pool.query("SELECT reason FROM referrals WHERE target_clinic = 'Hilltop TMS'")[0].decode(
                    String?.self, at: 0) == "shorter waiting list")
            try await clinic.store.moveReferral(
                first.referralID, to: .declined, by: .system(actingFor: clinic.psychiatrist))
            _ = try await clinic.store.markEnteredInError(
                .referral, id: first.referralID, reason: "wrong patient", by: .system(actingFor: clinic.psychiatrist))
            await #expect(throws: StoreError.self) {
                try await clinic.store.makeReferral(
                    patientID: clinic.patient, kind: .tms, targetClinic: "Third TMS",
                    by: .system(actingFor: clinic.psychiatrist))
            }
        }
    }

    @Test("what cannot be true is refused, naming the field and what would be accepted, and nothing is written")
    func implausible() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let events = try await clinic.count("events", pool)
            func refusal(_ body: () async throws -> Void) async -> InvalidValue? {
                do { try await body() } catch StoreError.invalidValue(let value) { return value } catch {
                    Issue.record("\(error)")
                }
                return nil
            }
            let future = Date().addingTimeInterval(3 * day)
            let start = await refusal {
                _ = try await clinic.store.startTrial(
                    patientID: clinic.patient, kind: .medication, drug: "sertraline", dailyDoseMg: 50,
                    startedOn: future, by: .system(actingFor: clinic.psychiatrist))
            }
            #expect(start?.field == "started_on" && start?.message.contains("in the future") == true)
            let ancient = await refusal {
                _ = try await clinic.store.startTrial(
                    patientID: clinic.patient, kind: .medication, drug: "sertraline", dailyDoseMg: 50,
                    startedOn: enrolmentDate.addingTimeInterval(-400 * day), by: .system(actingFor: clinic.psychiatrist)
                )
            }
            #expect(
                ancient?.field == "started_on"
                    && ancient?.message.contains("365 days before the patient's enrolment") == true)
            let dose = await refusal {
                _ = try await clinic.store.startTrial(
                    patientID: clinic.patient, kind: .medication, drug: "sertraline", dailyDoseMg: 5000,
                    startedOn: enrolmentDate, by: .system(actingFor: clinic.psychiatrist))
            }
            #expect(
                dose?.field == "daily_dose_mg" && dose?.accepted == ["up to 200"]
                    && dose?.message.contains("confirm_high_dose") == true)
            let unknown = await refusal {
                _ = try await clinic.store.startTrial(
                    patientID: clinic.patient, kind: .medication, drug: "setraline", dailyDoseMg: 50,
                    startedOn: enrolmentDate, by: .system(actingFor: clinic.psychiatrist))
            }
            #expect(unknown?.field == "drug" && unknown?.accepted.first == "sertraline")
            let score = await refusal {
                _ = try await clinic.store.recordMeasurement(
                    patientID: clinic.patient, score: Score(.phq9, total: 10),
                    takenAt: Date().addingTimeInterval(3600), by: .system(actingFor: clinic.psychologist))
            }
            #expect(score?.field == "taken_at")
            #expect(try await clinic.count("events", pool) == events)
            #expect(try await clinic.count("trials", pool) == 0)

            // With a reason, the high dose is recorded and the reason kept.
            let high = try await clinic.store.startTrial(
                patientID: clinic.patient, kind: .medication, drug: "sertraline", dailyDoseMg: 250,
                startedOn: enrolmentDate,
                highDoseReason: "rapid metaboliser, levels checked", by: .system(actingFor: clinic.psychiatrist))
            #expect(
                try await pool.query("SELECT high_dose_reason FROM trials WHERE id = \(high)")[0].decode(
                    String?.self, at: 0) == "rapid metaboliser, levels checked")
            let stop = await refusal {
                _ = try await clinic.store.recordTrialOutcome(
                    trialID: high, outcome: .nonResponse, stoppedOn: enrolmentDate.addingTimeInterval(-day),
                    by: .system(actingFor: clinic.psychiatrist))
            }
            #expect(stop?.field == "stopped_on" && stop?.accepted == ["on or after \(DayText.format(enrolmentDate))"])
        }
    }

    @Test(
        """
        the task status machine: completing an unclaimed task claims it, cancel and fail need a reason, a refused move \
        names the allowed ones
        """
    )
    func taskMachine() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let task = try await clinic.store.createTask(
                patientID: clinic.patient, title: "Call the insurer", poolRole: .socialWorker,
                by: .system(actingFor: clinic.psychiatrist))
            let completed = try await clinic.store.completeTask(
                task, evidence: "Approved", by: .system(actingFor: clinic.socialWorker))
            #expect(completed.status == .completed && completed.ownerID == clinic.socialWorker)
            let other = try await clinic.store.createTask(
                patientID: clinic.patient, title: "Book transport", poolRole: .socialWorker,
                by: .system(actingFor: clinic.psychiatrist))
            await #expect(
                throws: StoreError.invalidValue(InvalidValue(field: "reason", message: "say why the task is cancelled"))
            ) {
                try await clinic.store.cancelTask(other, reason: " ", by: .system(actingFor: clinic.socialWorker))
            }
            let held = try await clinic.store.holdTask(
                other, reason: "waiting for the insurer", by: .system(actingFor: clinic.socialWorker))
            #expect(held.status == .onHold && held.statusReason == "waiting for the insurer")
            await #expect(
                throws: StoreError.moveNotAllowed(
                    TransitionError(
                        subject: "task", from: "on-hold", to: "completed",
                        allowed: ["requested", "accepted", "in-progress", "cancelled", "failed"]))
            ) {
                try await clinic.store.completeTask(other, by: .system(actingFor: clinic.socialWorker))
            }
            // Resumed, the hold's reason no longer explains the status; the history keeps it.
            let resumed = try await clinic.store.resumeTask(other, by: .system(actingFor: clinic.socialWorker))
            #expect(resumed.status == .requested && resumed.statusReason == nil)
            #expect(
                try await pool.query(
                    """
                    SELECT payload->>'reason' FROM events WHERE type = 'task.held' AND payload->>'task_id' =
                        \(other.lowercasedString)
                    """)[0].decode(String.self, at: 0) == "waiting for the insurer")
            let failed = try await clinic.store.failTask(
                other, reason: "no transport in the area", by: .system(actingFor: clinic.socialWorker))
            #expect(failed.status == .failed && failed.statusReason == "no transport in the area")
            let events = try await pool.query(
                "SELECT type FROM events WHERE payload->>'task_id' = \(other.lowercasedString) ORDER BY id"
            ).column(String.self)
            #expect(events == ["task.created", "task.held", "task.resumed", "task.failed"])
        }
    }

    @Test("a handoff is reassigned to another role with a reason; the task moves pools and the history shows it")
    func reassign() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let referral = try await clinic.store.makeReferral(
                patientID: clinic.patient, kind: .ect, targetClinic: "City ECT",
                by: .system(actingFor: clinic.psychiatrist))
            let handoff = referral.event.handoffIDs[0]  // the social worker's authorisation and transport
            try await clinic.store.acknowledgeHandoff(handoff, by: .system(actingFor: clinic.socialWorker))
            let task = try await clinic.store.reassignHandoff(
                handoff, to: .psychologist, member: clinic.psychologist, reason: "she knows the family",
                by: .system(actingFor: clinic.socialWorker))
            #expect(
                task.id == handoff && task.poolRole == .psychologist && task.ownerID == clinic.psychologist
                    && task.status == .accepted)
            // The new receiver acknowledges it afresh; the old role no longer has it.
            #expect(
                try await clinic.store.handoffs(by: .system(actingFor: clinic.socialWorker)).items.map(\.id).contains(
                    handoff) == false)
            #expect(
                try await clinic.store.handoffs(by: .system(actingFor: clinic.psychologist)).items.map(\.id).contains(
                    handoff))
            let history = try await clinic.store.patientEvents(clinic.patient, by: .system())
            let event = try #require(history.first { $0.type == EventType.handoffReassigned.rawValue })
            #expect(
                event.payload["from_role"] == "social_worker" && event.payload["to_role"] == "psychologist"
                    && event.payload["reason"] == "she knows the family")
            await #expect(
                throws: StoreError.invalidValue(
                    InvalidValue(field: "member_id", message: "that member is not a psychiatrist on the patient's team")
                )
            ) {
                try await clinic.store.reassignHandoff(
                    handoff, to: .psychiatrist, member: clinic.socialWorker, reason: "x",
                    by: .system(actingFor: clinic.psychologist))
            }
            // One id for one piece of work: the task's id acknowledges the handoff.
            let acknowledged = try await clinic.store.acknowledgeHandoff(
                task.id, by: .system(actingFor: clinic.psychologist))
            #expect(acknowledged.id == handoff)
        }
    }

    @Test(
        """
        notes: newest first with their author's name; an amended note says so; an amendment keeps the kind; a note \
        entered in error leaves the list
        """
    )
    func notes() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let first = try await clinic.store.addNote(
                patientID: clinic.patient, kind: .social, body: "Housing review",
                by: .system(actingFor: clinic.socialWorker))
            let second = try await clinic.store.addNote(
                patientID: clinic.patient, kind: .progress, body: "Sleeping better",
                by: .system(actingFor: clinic.psychiatrist))
            let amendment = try await clinic.store.amendNote(
                first, body: "Housing review: rent arrears too", by: .system(actingFor: clinic.socialWorker))
            await #expect(throws: StoreError.forbidden(RecordPermission.amendRefusal)) {
                try await clinic.store.amendNote(second, body: "Not mine", by: .system(actingFor: clinic.socialWorker))
            }
            let notes = try await clinic.store.notes(
                patientID: clinic.patient, by: .system(actingFor: clinic.psychiatrist)
            ).items
            #expect(notes.map(\.id) == [amendment.id, second, first])
            #expect(notes.map(\.authorName) == ["S. Okafor", "Dr. Rao", "S. Okafor"])
            #expect(notes[2].amendedBy == [amendment.id] && notes[0].kind == .social && notes[1].amendedBy.isEmpty)
            // Paging newest first.
            let page = try await clinic.store.notes(
                patientID: clinic.patient, limit: 2, by: .system(actingFor: clinic.psychiatrist))
            let rest = try await clinic.store.notes(
                patientID: clinic.patient, limit: 2, after: UUID(uuidString: page.next ?? ""),
                by: .system(actingFor: clinic.psychiatrist))
            #expect(page.items.map(\.id) + rest.items.map(\.id) == [amendment.id, second, first])
            _ = try await clinic.store.markEnteredInError(
                .note, id: second, reason: "wrong patient", by: .system(actingFor: clinic.psychiatrist))
            #expect(
                try await clinic.store.notes(patientID: clinic.patient, by: .system(actingFor: clinic.psychiatrist))
                    .items.map(\.id) == [amendment.id, first])
        }
    }
}

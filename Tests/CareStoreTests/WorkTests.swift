import CoreFormats
import CareDomain
import CareStore
import Foundation
import PQ
import Testing
import TestSupport

@Suite("Tasks, notes, care plans and the queries over them", .timeLimit(.minutes(2)))
struct WorkTests {
    @Test("a pool task is claimed, started and completed; invalid moves are refused and change nothing")
    func taskLifecycle() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let task = try await clinic.store.createTask(
                patientID: clinic.patient, title: "Call the insurer", poolRole: .socialWorker, priority: .urgent,
                by: .system(actingFor: clinic.psychiatrist))
            await #expect(throws: StoreError.self) {
                try await clinic.store.claimTask(task, by: .system(actingFor: clinic.psychologist))
            }
            // Completing an unclaimed pool task claims it, so it takes a member of the pool.
            await #expect(
                throws: StoreError.forbidden("this task is for the social worker pool; only a social worker claims it")
            ) {
                try await clinic.store.completeTask(task, by: .system(actingFor: clinic.psychologist))
            }
            try await clinic.store.claimTask(task, by: .system(actingFor: clinic.socialWorker))
            await #expect(throws: StoreError.conflict("this task is already claimed")) {
                try await clinic.store.claimTask(task, by: .system(actingFor: clinic.socialWorker))
            }
            try await clinic.store.startTask(task, by: .system(actingFor: clinic.socialWorker))
            try await clinic.store.completeTask(
                task, evidence: "Authorisation 55-1 granted", by: .system(actingFor: clinic.socialWorker))
            await #expect(
                throws: StoreError.moveNotAllowed(
                    TransitionError(subject: "task", from: "completed", to: "cancelled", allowed: []))
            ) {
                try await clinic.store.cancelTask(
                    task, reason: "not needed", by: .system(actingFor: clinic.socialWorker))
            }
            let row = try await pool.query(
                "SELECT status, owner_id, evidence, completed_at IS NOT NULL FROM tasks WHERE id = \(task)")[0]
            let (status, owner, evidence, completed) = try row.decode(String.self, UUID?.self, String?.self, Bool.self)
            #expect(
                status == "completed" && owner == clinic.socialWorker && evidence == "Authorisation 55-1 granted"
                    && completed)
            let events = try await pool.query(
                "SELECT type FROM events WHERE payload ->> 'task_id' = \(task.uuidString.lowercased()) ORDER BY id"
            ).column(String.self)
            #expect(events == ["task.created", "task.claimed", "task.started", "task.completed"])
        }
    }

    @Test("a task is assigned only to a member of the patient's team, and cancelled with a reason")
    func assignAndCancel() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let otherTeam = try await clinic.store.createTeam(name: "South", by: .system())
            let stranger = try await clinic.store.createMember(
                displayName: "Dr. Elsewhere", teamID: otherTeam, roles: [.psychiatrist], by: .system())
            let task = try await clinic.store.createTask(
                patientID: clinic.patient, title: "Review labs", poolRole: .psychiatrist,
                by: .system(actingFor: clinic.psychiatrist))
            await #expect(throws: StoreError.self) {
                try await clinic.store.assignTask(task, to: stranger, by: .system(actingFor: clinic.psychiatrist))
            }
            try await clinic.store.assignTask(
                task, to: clinic.psychiatrist, by: .system(actingFor: clinic.psychiatrist))
            try await clinic.store.cancelTask(task, reason: "duplicate", by: .system(actingFor: clinic.psychiatrist))
            let status = try await pool.query("SELECT status FROM tasks WHERE id = \(task)")[0].decode(
                String.self, at: 0)
            #expect(status == "cancelled")
            await #expect(throws: StoreError.invalid("a task needs an owner or a role pool")) {
                try await clinic.store.createTask(patientID: clinic.patient, title: "Nobody's", by: .system())
            }
        }
    }

    @Test("a member's queue: own tasks and their roles' pools, stat first then by due time, nothing before not-before")
    func queue() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let now = Date()
            let routine = try await clinic.store.createTask(
                patientID: clinic.patient, title: "Routine", poolRole: .psychologist,
                dueAt: now.addingTimeInterval(3600), by: .system())
            let later = try await clinic.store.createTask(
                patientID: clinic.patient, title: "Later", poolRole: .psychologist, dueAt: now.addingTimeInterval(7200),
                by: .system())
            let stat = try await clinic.store.createTask(
                patientID: clinic.patient, title: "Stat", poolRole: .psychologist, priority: .stat,
                dueAt: now.addingTimeInterval(9000), by: .system())
            let own = try await clinic.store.createTask(
                patientID: clinic.patient, title: "Own", ownerID: clinic.psychologist, priority: .urgent, by: .system())
            _ = try await clinic.store.createTask(
                patientID: clinic.patient, title: "Not yet", poolRole: .psychologist,
                dueAt: now.addingTimeInterval(99_000), notBefore: now.addingTimeInterval(86_400), by: .system())
            _ = try await clinic.store.createTask(
                patientID: clinic.patient, title: "Someone else's", poolRole: .socialWorker, by: .system())
            let queue = try await clinic.store.queue(asOf: now, by: .system(actingFor: clinic.psychologist))
            #expect(queue.map(\.id) == [stat, own, routine, later])
            let tomorrow = try await clinic.store.queue(
                asOf: now.addingTimeInterval(2 * 86_400), by: .system(actingFor: clinic.psychologist))
            #expect(tomorrow.contains { $0.title == "Not yet" })
        }
    }

    @Test("notes are amended by new notes; psychotherapy notes appear only to their author")
    func notes() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let progress = try await clinic.store.addNote(
                patientID: clinic.patient, kind: .progress, body: "Started sertraline 50 mg",
                by: .system(actingFor: clinic.psychiatrist))
            let amendment = try await clinic.store.addNote(
                patientID: clinic.patient, kind: .progress, body: "Correction: 100 mg", amends: progress,
                by: .system(actingFor: clinic.psychiatrist))
            let therapy = try await clinic.store.addNote(
                patientID: clinic.patient, kind: .psychotherapy, body: "Session 3: grief work",
                by: .system(actingFor: clinic.psychologist))
            await #expect(throws: StoreError.notFound("note \(therapy.lowercasedString)")) {
                try await clinic.store.addNote(
                    patientID: clinic.patient, kind: .psychotherapy, body: "x", amends: therapy,
                    by: .system(actingFor: clinic.psychiatrist))
            }
            await #expect(throws: StoreError.invalid("a note needs a body")) {
                try await clinic.store.addNote(
                    patientID: clinic.patient, kind: .progress, body: "  ", by: .system(actingFor: clinic.psychiatrist))
            }
            let forPsychiatrist = try await clinic.store.patientSummary(
                clinic.patient, by: .system(actingFor: clinic.psychiatrist))
            #expect(Set(forPsychiatrist.recentNotes.map(\.id)) == [progress, amendment])
            let forAuthor = try await clinic.store.patientSummary(
                clinic.patient, by: .system(actingFor: clinic.psychologist))
            #expect(forAuthor.recentNotes.contains { $0.id == therapy })
            #expect(forPsychiatrist.recentNotes.first { $0.id == amendment }?.amends == progress)
            // Events never carry a note's body.
            let payloads = try await pool.query("SELECT payload::text FROM events WHERE type LIKE 'note.%'").column(
                String.self)
            #expect(payloads.count == 3)
            #expect(!payloads.contains { $0.contains("grief") || $0.contains("sertraline") })
        }
    }

    @Test("the care plan saves with the expected version and refuses a stale one")
    func carePlanVersions() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let content = CarePlanContent(goals: ["PHQ-9 below 5"], problems: ["Insomnia"], treatmentLine: "SSRI, CBT")
            #expect(
                try await clinic.store.updateCarePlan(
                    patientID: clinic.patient, expectedVersion: 1, content: content,
                    by: .system(actingFor: clinic.psychiatrist)) == 2)
            await #expect(throws: StoreError.staleVersion(what: "the care plan", current: 2, expected: 1)) {
                try await clinic.store.updateCarePlan(
                    patientID: clinic.patient, expectedVersion: 1, content: content,
                    by: .system(actingFor: clinic.psychologist))
            }
            let summary = try await clinic.store.patientSummary(
                clinic.patient, by: .system(actingFor: clinic.psychologist))
            #expect(summary.planVersion == 2)
            #expect(summary.plan == content)
            #expect(
                try await pool.query("SELECT count(*) FROM care_plans WHERE patient_id = \(clinic.patient)")[0].decode(
                    Int.self, at: 0) == 2)
        }
    }

    @Test(
        "the summary shows scores with their trend, trials with adequacy, TRD with stages, referrals and open handoffs")
    func summary() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            _ = try await clinic.store.recordMeasurement(
                patientID: clinic.patient, score: Score(.phq9, total: 22), takenAt: enrolmentDate, by: .system())
            for (drug, dose, start) in [("sertraline", 100.0, 0.0), ("duloxetine", 60.0, 70.0)] {
                let trial = try await clinic.store.startTrial(
                    patientID: clinic.patient, kind: .medication, drug: drug, dailyDoseMg: dose,
                    startedOn: enrolmentDate.addingTimeInterval(start * day),
                    by: .system(actingFor: clinic.psychiatrist))
                _ = try await clinic.store.recordTrialOutcome(
                    trialID: trial, outcome: .nonResponse,
                    stoppedOn: enrolmentDate.addingTimeInterval((start + 56) * day),
                    by: .system(actingFor: clinic.psychiatrist))
            }
            _ = try await clinic.store.recordMeasurement(
                patientID: clinic.patient, score: Score(.phq9, total: 18),
                takenAt: enrolmentDate.addingTimeInterval(130 * day), by: .system())
            _ = try await clinic.store.makeReferral(
                patientID: clinic.patient, kind: .tms, targetClinic: "Lakeside TMS",
                by: .system(actingFor: clinic.psychiatrist))
            let summary = try await clinic.store.patientSummary(
                clinic.patient, asOf: enrolmentDate.addingTimeInterval(140 * day),
                by: .system(actingFor: clinic.psychiatrist))
            #expect(summary.scores.map(\.total) == [22, 18])
            #expect(summary.response?.category == .nonResponse)
            #expect(
                summary.trials.count == 2
                    && summary.trials.allSatisfy { $0.isFailed && $0.adequacy?.isAdequate == true })
            #expect(summary.trd.isTRD)
            #expect(summary.thaseRush.stage == .stageII)
            #expect(summary.maudsley?.severity == MaudsleySeverity.severeWithoutPsychosis.rawValue)
            #expect(summary.referrals.map(\.kind) == [.tms])
            // 3 for the first failure (the second's three steps join the open ones), 1 for TRD, 4 for TMS.
            #expect(summary.openHandoffs.count == 8)
            #expect(summary.openTasks.count == 8)
            #expect(
                summary.openTasks.contains {
                    $0.title == "Plan the next treatment step: optimise, switch, augment or refer (2 causes)"
                })
            let history = try await clinic.store.patientEvents(clinic.patient, by: .system())
            // The newest: the referral, then the handoff.created event of each handoff it made.
            #expect(
                history.prefix(5).map(\.type) == Array(repeating: EventType.handoffCreated.rawValue, count: 4) + [
                    "referral.made"
                ])
            #expect(history.filter { $0.type == EventType.handoffCreated.rawValue }.count == 8)
            #expect(history.filter { $0.type == EventType.handoffCauseAdded.rawValue }.count == 3)
            #expect(history.contains { $0.type == "patient.trd_reached" })
        }
    }
}

@Suite("Derived outcomes and patient status", .timeLimit(.minutes(2)))
struct DerivedOutcomeTests {
    @Test("with no outcome given, the PHQ-9 before and during the trial decide it")
    func derivedFromScores() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let trial = try await clinic.store.startTrial(
                patientID: clinic.patient, kind: .medication, drug: "sertraline", dailyDoseMg: 100,
                startedOn: enrolmentDate, by: .system(actingFor: clinic.psychiatrist))
            await #expect(throws: StoreError.self) {
                try await clinic.store.recordTrialOutcome(
                    trialID: trial, outcome: nil, stoppedOn: enrolmentDate.addingTimeInterval(56 * day), by: .system())
            }
            _ = try await clinic.store.recordMeasurement(
                patientID: clinic.patient, score: Score(.phq9, total: 20), takenAt: enrolmentDate, by: .system())
            _ = try await clinic.store.recordMeasurement(
                patientID: clinic.patient, score: Score(.phq9, total: 17),
                takenAt: enrolmentDate.addingTimeInterval(50 * day), by: .system())
            let result = try await clinic.store.recordTrialOutcome(
                trialID: trial, outcome: nil, stoppedOn: enrolmentDate.addingTimeInterval(56 * day),
                by: .system(actingFor: clinic.psychiatrist))
            #expect(result.isFailure)  // 15% better: non-response
            #expect(
                try await pool.query("SELECT outcome FROM trials WHERE id = \(trial)")[0].decode(String.self, at: 0)
                    == "non-response")
        }
    }

    @Test("patient status follows its transitions")
    func patientStatus() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            await #expect(
                throws: StoreError.moveNotAllowed(
                    TransitionError(
                        subject: "patient", from: "enrolled", to: "relapse-prevention",
                        allowed: ["active", "discharged"]))
            ) {
                try await clinic.store.changePatientStatus(clinic.patient, to: .relapsePrevention, by: .system())
            }
            try await clinic.store.changePatientStatus(clinic.patient, to: .active, by: .system())
            try await clinic.store.changePatientStatus(clinic.patient, to: .relapsePrevention, by: .system())
            #expect(
                try await pool.query("SELECT status FROM patients WHERE id = \(clinic.patient)")[0].decode(
                    String.self, at: 0) == "relapse-prevention")
        }
    }
}

@Suite("Titration and psychotherapy trials", .timeLimit(.minutes(2)))
struct TitrationTests {
    @Test("a titrated trial counts only the weeks at an adequate dose")
    func titration() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            // 4 weeks at 25 mg (below sertraline's 50), then 4 at 100: only 4 adequate weeks.
            let trial = try await clinic.store.startTrial(
                patientID: clinic.patient, kind: .medication, drug: "sertraline", dailyDoseMg: 25,
                startedOn: enrolmentDate, by: .system(actingFor: clinic.psychiatrist))
            try await clinic.store.changeTrialDose(
                trialID: trial, dailyDoseMg: 100, from: enrolmentDate.addingTimeInterval(28 * day),
                by: .system(actingFor: clinic.psychiatrist))
            await #expect(throws: StoreError.self) {
                try await clinic.store.changeTrialDose(
                    trialID: trial, dailyDoseMg: 0, from: enrolmentDate.addingTimeInterval(30 * day), by: .system())
            }
            let result = try await clinic.store.recordTrialOutcome(
                trialID: trial, outcome: .nonResponse, stoppedOn: enrolmentDate.addingTimeInterval(56 * day),
                by: .system(actingFor: clinic.psychiatrist))
            #expect(!result.adequacy.isAdequate)
            #expect(abs(result.adequacy.weeksAtAdequateDose - 4) < 0.01)
            #expect(!result.isFailure)
            await #expect(throws: StoreError.self) {
                try await clinic.store.changeTrialDose(
                    trialID: trial, dailyDoseMg: 150, from: enrolmentDate.addingTimeInterval(60 * day), by: .system())
            }
        }
    }

    @Test("a psychotherapy trial of 8 sessions ending in non-response is a failure but does not count towards TRD")
    func psychotherapy() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let trial = try await clinic.store.startTrial(
                patientID: clinic.patient, kind: .psychotherapy, drug: nil, dailyDoseMg: nil, startedOn: enrolmentDate,
                therapy: "CBT", by: .system(actingFor: clinic.psychologist))
            let result = try await clinic.store.recordTrialOutcome(
                trialID: trial, outcome: .nonResponse, stoppedOn: enrolmentDate.addingTimeInterval(70 * day),
                sessions: 8, by: .system(actingFor: clinic.psychologist))
            #expect(result.adequacy.isAdequate && result.isFailure && !result.trdReached)
            let summary = try await clinic.store.patientSummary(
                clinic.patient, by: .system(actingFor: clinic.psychologist))
            #expect(summary.trd.failedTrials == 0)
        }
    }
}

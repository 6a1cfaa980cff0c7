import CoreFormats
import CareDomain
import CareStore
import Foundation
import PQ
import Testing
import TestSupport

let day: TimeInterval = 86_400
/// A year ago today (midnight UTC): every trial the tests record, up to 170 days after it, lies in the past.
let enrolmentDate = Date(timeIntervalSince1970: ((Date().timeIntervalSince1970 / 86_400).rounded(.down) - 365) * 86_400)

struct Clinic {
    var store: CareStore
    var team: UUID
    var psychiatrist: UUID
    var psychologist: UUID
    var socialWorker: UUID
    var patient: UUID

    static func make(_ pool: PQPool) async throws -> Clinic {
        let store = CareStore(pool: pool, requestPool: MigratedDatabase.requestPool(for: pool), logger: testLogger())
        let team = try await store.createTeam(name: "North", by: .system())
        let psychiatrist = try await store.createMember(
            displayName: "Dr. Rao", teamID: team, roles: [.psychiatrist], by: .system())
        let psychologist = try await store.createMember(
            displayName: "Dr. Lind", teamID: team, roles: [.psychologist], by: .system())
        let socialWorker = try await store.createMember(
            displayName: "S. Okafor", teamID: team, roles: [.socialWorker], by: .system())
        let patient = try await store.createPatient(
            teamID: team, mrn: "MRN-1", displayName: "A. Patient", enrolledOn: enrolmentDate, by: .system())
        return Clinic(
            store: store, team: team, psychiatrist: psychiatrist, psychologist: psychologist,
            socialWorker: socialWorker, patient: patient)
    }

    func count(_ table: String, _ pool: PQPool) async throws -> Int {
        try await pool.query("SELECT count(*) FROM \(unescaped: table)")[0].decode(Int.self, at: 0)
    }

    func handoffRoles(_ pool: PQPool, event type: String) async throws -> [String] {
        try await pool.query(
            """
            SELECT h.role FROM handoffs h JOIN events e ON e.id = h.event_id JOIN tasks t ON t.id = h.task_id
            WHERE e.type = \(type) AND t.pool_role = h.role AND t.origin = 'handoff' AND t.status = 'requested'
            ORDER BY h.role, h.step_key
            """
        ).column(String.self)
    }

    func eventCount(_ pool: PQPool, _ type: String) async throws -> Int {
        try await pool.query("SELECT count(*) FROM events WHERE type = \(type)")[0].decode(Int.self, at: 0)
    }
}

@Suite("Store commands", .timeLimit(.minutes(2)))
struct StoreTests {
    @Test("teams, members and patients are created with their events; bad input writes nothing")
    func enrolment() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            #expect(try await clinic.eventCount(pool, "patient.enrolled") == 1)
            let events = try await clinic.count("events", pool)
            await #expect(throws: StoreError.conflict("a team named North already exists")) {
                try await clinic.store.createTeam(name: "North", by: .system())
            }
            await #expect(throws: StoreError.invalid("a team needs a name")) {
                try await clinic.store.createTeam(name: "  ", by: .system())
            }
            await #expect(throws: StoreError.conflict("MRN MRN-1 is already enrolled on this team")) {
                try await clinic.store.createPatient(
                    teamID: clinic.team, mrn: "MRN-1", displayName: "Twin", enrolledOn: enrolmentDate, by: .system())
            }
            let missing = UUID()
            await #expect(throws: StoreError.notFound("team \(missing.lowercasedString)")) {
                try await clinic.store.createPatient(
                    teamID: missing, mrn: "MRN-2", displayName: "B", enrolledOn: enrolmentDate, by: .system())
            }
            #expect(try await clinic.count("events", pool) == events)
            #expect(try await clinic.count("patients", pool) == 1)
            #expect(try await clinic.count("care_plans", pool) == 1)
        }
    }

    @Test(
        """
        a PHQ-9 with item 9 above 0 gives the psychiatrist and psychologist same-day handoffs; an ordinary one gives \
        none
        """
    )
    func safetySignal() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let plain = try await clinic.store.recordMeasurement(
                patientID: clinic.patient, score: Score(.phq9, items: [2, 2, 2, 2, 2, 2, 2, 2, 0]), takenAt: Date(),
                by: .system(actingFor: clinic.psychologist))
            #expect(plain.event.handoffIDs.isEmpty)
            let signal = try await clinic.store.recordMeasurement(
                patientID: clinic.patient, score: Score(.phq9, items: [2, 2, 2, 2, 2, 2, 2, 2, 1]), takenAt: Date(),
                by: .system(actingFor: clinic.psychologist))
            #expect(signal.event.handoffIDs.count == 2)
            // The score, its event and its handoffs are the ones the command answered with (the
            // event's id reserved ahead, its insert sent with COMMIT).
            let logged = try await pool.query(
                """
                SELECT m.id, m.total, e.occurred_at, (SELECT count(*)::int FROM handoffs h WHERE h.event_id = e.id)
                FROM events e JOIN measurements m ON m.id = (e.payload->>'measurement_id')::uuid
                WHERE e.id = \(signal.event.id) AND e.type = 'measurement.recorded'
                """)
            #expect(logged.count == 1)
            let (measurement, total, occurredAt, handoffs) = try logged[0].decode(
                UUID.self, Int.self, Date.self, Int.self)
            #expect(measurement == signal.measurementID && total == 17)
            #expect(occurredAt == signal.event.occurredAt && handoffs == 2)
            #expect(
                try await clinic.handoffRoles(pool, event: "measurement.recorded") == ["psychiatrist", "psychologist"])
            let due = try await pool.query(
                """
                SELECT bool_and(due_at <= now() + interval '12 hours' AND priority = 'stat') FROM tasks WHERE origin = \
                'handoff'
                """
            )
            #expect(try due[0].decode(Bool.self, at: 0))
        }
    }

    @Test("a TMS referral produces its four handoffs and an ECT referral its three")
    func referrals() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let tms = try await clinic.store.makeReferral(
                patientID: clinic.patient, kind: .tms, targetClinic: "Lakeside TMS",
                by: .system(actingFor: clinic.psychiatrist))
            #expect(tms.event.handoffIDs.count == 4)
            let roles = try await pool.query("SELECT role FROM handoffs WHERE event_id = \(tms.event.id) ORDER BY role")
                .column(String.self)
            #expect(roles == ["psychiatrist", "psychologist", "social_worker", "social_worker"])
            let ect = try await clinic.store.makeReferral(
                patientID: clinic.patient, kind: .ect, targetClinic: "City ECT",
                by: .system(actingFor: clinic.psychiatrist))
            #expect(ect.event.handoffIDs.count == 3)
            try await clinic.store.moveReferral(
                tms.referralID, to: .accepted, by: .system(actingFor: clinic.socialWorker))
            await #expect(
                throws: StoreError.moveNotAllowed(
                    TransitionError(
                        subject: "referral", from: "accepted", to: "completed",
                        allowed: ["scheduled", "declined", "cancelled"]))
            ) {
                try await clinic.store.moveReferral(
                    tms.referralID, to: .completed, by: .system(actingFor: clinic.socialWorker))
            }
            let status = try await pool.query("SELECT status FROM referrals WHERE id = \(tms.referralID)")[0].decode(
                String.self, at: 0)
            #expect(status == "accepted")
        }
    }

    @Test(
        """
        a failed adequate trial gives three handoffs; the second failure reaches TRD and asks for a neuromodulation \
        evaluation
        """
    )
    func trialFailureAndTRD() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let first = try await clinic.store.startTrial(
                patientID: clinic.patient, kind: .medication, drug: "Sertraline", dailyDoseMg: 100,
                startedOn: enrolmentDate, by: .system(actingFor: clinic.psychiatrist))
            let firstResult = try await clinic.store.recordTrialOutcome(
                trialID: first, outcome: .nonResponse, stoppedOn: enrolmentDate.addingTimeInterval(56 * day),
                by: .system(actingFor: clinic.psychiatrist))
            #expect(firstResult.isFailure && !firstResult.trdReached)
            #expect(
                try await clinic.handoffRoles(pool, event: "trial.failed") == [
                    "psychiatrist", "psychologist", "social_worker",
                ])

            let second = try await clinic.store.startTrial(
                patientID: clinic.patient, kind: .medication, drug: "venlafaxine", dailyDoseMg: 150,
                startedOn: enrolmentDate.addingTimeInterval(60 * day), by: .system(actingFor: clinic.psychiatrist))
            let secondResult = try await clinic.store.recordTrialOutcome(
                trialID: second, outcome: .partialResponse, stoppedOn: enrolmentDate.addingTimeInterval(110 * day),
                by: .system(actingFor: clinic.psychiatrist))
            #expect(secondResult.isFailure && secondResult.trdReached)
            #expect(try await clinic.eventCount(pool, "patient.trd_reached") == 1)
            #expect(try await clinic.handoffRoles(pool, event: "patient.trd_reached") == ["psychiatrist"])

            // A third failure does not reach TRD again.
            let third = try await clinic.store.startTrial(
                patientID: clinic.patient, kind: .medication, drug: "bupropion", dailyDoseMg: 300,
                startedOn: enrolmentDate.addingTimeInterval(120 * day), by: .system(actingFor: clinic.psychiatrist))
            let thirdResult = try await clinic.store.recordTrialOutcome(
                trialID: third, outcome: .nonResponse, stoppedOn: enrolmentDate.addingTimeInterval(170 * day),
                by: .system(actingFor: clinic.psychiatrist))
            #expect(thirdResult.isFailure && !thirdResult.trdReached)
            #expect(try await clinic.eventCount(pool, "patient.trd_reached") == 1)
        }
    }

    @Test(
        """
        a failure that reaches TRD logs its events in the order they happened, with the ids and the time the command \
        returned, and joins the first failure's open handoffs
        """
    )
    func outcomeEventsInOrder() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let psychiatrist = Caller.system(actingFor: clinic.psychiatrist)
            let first = try await clinic.store.startTrial(
                patientID: clinic.patient, kind: .medication, drug: "sertraline", dailyDoseMg: 100,
                startedOn: enrolmentDate, by: psychiatrist)
            let firstResult = try await clinic.store.recordTrialOutcome(
                trialID: first, outcome: .nonResponse, stoppedOn: enrolmentDate.addingTimeInterval(56 * day),
                by: psychiatrist)
            let second = try await clinic.store.startTrial(
                patientID: clinic.patient, kind: .medication, drug: "venlafaxine", dailyDoseMg: 150,
                startedOn: enrolmentDate.addingTimeInterval(60 * day), by: psychiatrist)
            let result = try await clinic.store.recordTrialOutcome(
                trialID: second, outcome: .nonResponse, stoppedOn: enrolmentDate.addingTimeInterval(110 * day),
                by: psychiatrist)
            #expect(result.trdReached)

            // Everything the second recording wrote: one transaction, read in the log's order.
            let logged = try await pool.query(
                """
                SELECT id, type, occurred_at FROM events
                WHERE tx_id = (SELECT tx_id FROM events WHERE id = \(result.events[0].id)) ORDER BY id
                """
            ).map { try $0.decode(Int64.self, String.self, Date.self) }
            #expect(
                logged.map(\.1) == [
                    "trial.outcome_recorded", "trial.failed", "handoff.cause_added", "handoff.cause_added",
                    "handoff.cause_added", "patient.trd_reached", "handoff.created",
                ])
            // The command's own events are the log's, id for id and time for time; one transaction, one time.
            let returned = result.events.map { ($0.id, $0.occurredAt) }
            let own = logged.filter { !$0.1.hasPrefix("handoff.") }.map { ($0.0, $0.2) }
            #expect(returned.map(\.0) == own.map(\.0))
            #expect(returned.map(\.1) == own.map(\.1))
            #expect(Set(logged.map(\.2)).count == 1)

            // The first failure's three handoffs were joined (two causes each), none made anew.
            let joined = result.events[1].joinedHandoffIDs
            #expect(Set(joined) == Set(firstResult.events[1].handoffIDs) && joined.count == 3)
            #expect(result.events[1].handoffIDs.isEmpty)
            let causes = try await pool.query(
                """
                SELECT count(*)::int FROM handoff_causes WHERE handoff_id = ANY(\(joined)) AND withdrawn_at IS NULL
                """
            )[0].decode(Int.self, at: 0)
            #expect(causes == 6)
            let titles = try await pool.query("SELECT title FROM tasks WHERE id = ANY(\(joined)) ORDER BY title")
                .column(String.self)
            #expect(titles.allSatisfy { $0.hasSuffix("(2 causes)") })
            #expect(result.events[2].handoffIDs.count == 1)
        }
    }

    @Test(
        """
        a second running trial of the same drug or psychotherapy is refused with the running one named; another drug, \
        or the same one after an outcome, starts
        """
    )
    func oneRunningTrialPerTreatment() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let psychiatrist = Caller.system(actingFor: clinic.psychiatrist)
            let psychologist = Caller.system(actingFor: clinic.psychologist)
            let first = try await clinic.store.startTrial(
                patientID: clinic.patient, kind: .medication, drug: "bupropion", dailyDoseMg: 150,
                startedOn: enrolmentDate, by: psychiatrist)
            let trials = try await clinic.count("trials", pool)
            let events = try await clinic.count("events", pool)
            await #expect(
                throws: StoreError.alreadyOpen(
                    """
                    a bupropion trial (started \(DayText.format(enrolmentDate))) is still running for this patient: \
                    change its dose, or record its outcome (or mark it entered in error) before starting another
                    """,
                    existing: "/v1/trials/\(first.lowercasedString)")
            ) {
                try await clinic.store.startTrial(
                    patientID: clinic.patient, kind: .medication, drug: "Bupropion", dailyDoseMg: 300,
                    startedOn: enrolmentDate.addingTimeInterval(7 * day), by: psychiatrist)
            }
            // Nothing was written by the refusal.
            #expect(try await clinic.count("trials", pool) == trials)
            #expect(try await clinic.count("events", pool) == events)
            // Another drug runs alongside (an augmentation, a cross-taper).
            _ = try await clinic.store.startTrial(
                patientID: clinic.patient, kind: .augmentation, drug: "aripiprazole", dailyDoseMg: 5,
                startedOn: enrolmentDate.addingTimeInterval(7 * day), by: psychiatrist)
            // The same drug again once the first has its outcome.
            _ = try await clinic.store.recordTrialOutcome(
                trialID: first, outcome: .nonResponse, stoppedOn: enrolmentDate.addingTimeInterval(56 * day),
                by: psychiatrist)
            _ = try await clinic.store.startTrial(
                patientID: clinic.patient, kind: .medication, drug: "bupropion", dailyDoseMg: 300,
                startedOn: enrolmentDate.addingTimeInterval(60 * day), by: psychiatrist)
            // A psychotherapy by its name, in any case.
            _ = try await clinic.store.startTrial(
                patientID: clinic.patient, kind: .psychotherapy, drug: nil, dailyDoseMg: nil,
                startedOn: enrolmentDate.addingTimeInterval(60 * day), therapy: "CBT", by: psychologist)
            await #expect(throws: StoreError.self) {
                try await clinic.store.startTrial(
                    patientID: clinic.patient, kind: .psychotherapy, drug: nil, dailyDoseMg: nil,
                    startedOn: enrolmentDate.addingTimeInterval(61 * day), therapy: "cbt", by: psychologist)
            }

            // Ten starts of one drug at once for another patient: one trial, nine refusals.
            let other = try await clinic.store.createPatient(
                teamID: clinic.team, mrn: "MRN-2", displayName: "B. Patient", enrolledOn: enrolmentDate, by: .system())
            let started = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<10 {
                    group.addTask {
                        do {
                            _ = try await clinic.store.startTrial(
                                patientID: other, kind: .medication, drug: "sertraline", dailyDoseMg: 100,
                                startedOn: enrolmentDate, by: psychiatrist)
                            return true
                        } catch StoreError.alreadyOpen {
                            return false
                        } catch {
                            Issue.record("unexpected \(error)")
                            return false
                        }
                    }
                }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(started == 1)
            let rows = try await pool.query("SELECT count(*)::int FROM trials WHERE patient_id = \(other)")
            #expect(try rows[0].decode(Int.self, at: 0) == 1)
        }
    }

    @Test("a trial stopped at 3 weeks for intolerance is recorded without trial.failed or handoffs")
    func earlyIntolerance() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let trial = try await clinic.store.startTrial(
                patientID: clinic.patient, kind: .medication, drug: "paroxetine", dailyDoseMg: 20,
                startedOn: enrolmentDate, by: .system(actingFor: clinic.psychiatrist))
            let result = try await clinic.store.recordTrialOutcome(
                trialID: trial, outcome: .intolerance, stoppedOn: enrolmentDate.addingTimeInterval(21 * day),
                by: .system(actingFor: clinic.psychiatrist))
            #expect(!result.isFailure)
            #expect(try await clinic.eventCount(pool, "trial.failed") == 0)
            #expect(try await clinic.count("handoffs", pool) == 0)
            #expect(
                try await pool.query("SELECT outcome FROM trials WHERE id = \(trial)")[0].decode(String.self, at: 0)
                    == "intolerance")
        }
    }

    @Test("an unknown drug or a stop before the start is refused and nothing is written")
    func badTrials() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let events = try await clinic.count("events", pool)
            await #expect(throws: StoreError.self) {
                try await clinic.store.startTrial(
                    patientID: clinic.patient, kind: .medication, drug: "placebozine", dailyDoseMg: 10,
                    startedOn: enrolmentDate, by: .system())
            }
            let trial = try await clinic.store.startTrial(
                patientID: clinic.patient, kind: .medication, drug: "sertraline", dailyDoseMg: 50,
                startedOn: enrolmentDate, by: .system())
            await #expect(throws: StoreError.self) {
                try await clinic.store.recordTrialOutcome(
                    trialID: trial, outcome: .nonResponse, stoppedOn: enrolmentDate.addingTimeInterval(-day),
                    by: .system())
            }
            #expect(try await clinic.count("events", pool) == events + 1)  // trial.started only
            #expect(
                try await pool.query("SELECT outcome FROM trials WHERE id = \(trial)")[0].decode(String?.self, at: 0)
                    == nil)
        }
    }

    @Test("20 concurrent outcome recordings of one trial give one outcome, one trial.failed and one set of handoffs")
    func concurrentOutcomes() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let trial = try await clinic.store.startTrial(
                patientID: clinic.patient, kind: .medication, drug: "escitalopram", dailyDoseMg: 20,
                startedOn: enrolmentDate, by: .system(actingFor: clinic.psychiatrist))
            let results = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        (try? await clinic.store.recordTrialOutcome(
                            trialID: trial, outcome: .nonResponse,
                            stoppedOn: enrolmentDate.addingTimeInterval(60 * day),
                            by: .system(actingFor: clinic.psychiatrist))) != nil
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(results.filter { $0 }.count == 1)
            #expect(try await clinic.eventCount(pool, "trial.failed") == 1)
            #expect(try await clinic.eventCount(pool, "trial.outcome_recorded") == 1)
            #expect(try await clinic.count("handoffs", pool) == 3)
            #expect(try await clinic.count("tasks", pool) == 3)
        }
    }

    @Test("two escalation jobs running together escalate each overdue handoff once")
    func concurrentEscalation() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            for index in 0..<5 {
                _ = try await clinic.store.makeReferral(
                    patientID: clinic.patient, kind: .tms, targetClinic: "Clinic \(index)",
                    reason: index == 0 ? nil : "a second opinion", by: .system(actingFor: clinic.psychiatrist))
            }
            let overdue = try await clinic.count("handoffs", pool)
            #expect(overdue == 20)
            let later = Date().addingTimeInterval(30 * day)
            async let first = clinic.store.escalateOverdueHandoffs(now: later, limit: 100, by: .system())
            async let second = clinic.store.escalateOverdueHandoffs(now: later, limit: 100, by: .system())
            let (a, b) = try await (first, second)
            #expect(Set(a).isDisjoint(with: b))
            #expect(a.count + b.count == overdue)
            #expect(try await clinic.eventCount(pool, "handoff.escalated") == overdue)
            #expect(try await clinic.handoffRoles(pool, event: "handoff.escalated").allSatisfy { $0 == "care_manager" })
            // Neither the escalated handoffs nor the care manager's follow-ups are escalated again.
            #expect(
                try await clinic.store.escalateOverdueHandoffs(now: later.addingTimeInterval(60 * day), by: .system())
                    .isEmpty)
        }
    }

    @Test("acknowledging a handoff once works, twice is a conflict")
    func acknowledge() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let referral = try await clinic.store.makeReferral(
                patientID: clinic.patient, kind: .ect, targetClinic: "City ECT",
                by: .system(actingFor: clinic.psychiatrist))
            let handoff = referral.event.handoffIDs[0]
            try await clinic.store.acknowledgeHandoff(handoff, by: .system(actingFor: clinic.socialWorker))
            await #expect(throws: StoreError.conflict("this handoff is already acknowledged")) {
                try await clinic.store.acknowledgeHandoff(handoff, by: .system(actingFor: clinic.socialWorker))
            }
            #expect(try await clinic.eventCount(pool, "handoff.acknowledged") == 1)
        }
    }

    @Test("a command that fails after its event insert leaves no event, handoff, task or referral behind")
    func atomicity() async throws {
        try await MigratedDatabase.withPool { pool, database in
            let clinic = try await Clinic.make(pool)
            // The last handoff of a TMS referral fails inside the database (a trigger: the
            // server's login may not make one, so the test makes it as the superuser).
            try await database.superuserExecute(
                pool,
                """
                CREATE FUNCTION refuse_handoff() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'refused for the test'; END $$;
                CREATE TRIGGER refuse_tms_education BEFORE INSERT ON handoffs
                FOR EACH ROW WHEN (NEW.step_key = 'tms.education') EXECUTE FUNCTION refuse_handoff();
                """)
            let before = try await (
                clinic.count("events", pool), clinic.count("handoffs", pool), clinic.count("tasks", pool),
                clinic.count("referrals", pool)
            )
            await #expect(throws: PQError.self) {
                try await clinic.store.makeReferral(
                    patientID: clinic.patient, kind: .tms, targetClinic: "Lakeside TMS",
                    by: .system(actingFor: clinic.psychiatrist))
            }
            let after = try await (
                clinic.count("events", pool), clinic.count("handoffs", pool), clinic.count("tasks", pool),
                clinic.count("referrals", pool)
            )
            #expect(before == after)
        }
    }
}

@Suite("The event feed", .timeLimit(.minutes(2)))
struct FeedTests {
    @Test("a reader following the feed sees every event exactly once while slow and fast writers interleave")
    func neverSkips() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let store = CareStore(
                pool: pool, requestPool: MigratedDatabase.requestPool(for: pool), logger: testLogger())
            let writers = 6
            let perWriter = 15
            let total = writers * perWriter
            let reader = Task { () -> [Int64] in
                var cursor = FeedCursor.start
                var seen: [Int64] = []
                let deadline = ContinuousClock.now + .seconds(60)
                while seen.count < total, ContinuousClock.now < deadline {
                    let page = try await store.events(after: cursor, limit: 7)
                    seen += page.events.filter { $0.type == "test.written" }.map(\.id)
                    cursor = page.next
                    if page.events.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
                }
                return seen
            }
            try await writeInterleavedEvents(pool, writers: writers, perWriter: perWriter)
            let seen = try await reader.value
            let written = try await pool.query("SELECT id FROM events WHERE type = 'test.written' ORDER BY id").column(
                Int64.self)
            #expect(seen.count == total)
            #expect(Set(seen).count == seen.count, "an event was delivered twice")
            #expect(Set(seen) == Set(written), "an event was skipped")
        }
    }

    @Test("cursors are opaque text that round-trips and rejects garbage")
    func cursors() {
        let cursor = FeedCursor(transaction: 812, id: 40)
        #expect(FeedCursor(cursor.description) == cursor)
        #expect(FeedCursor("garbage") == nil)
        #expect(FeedCursor("-1-2") == nil)
    }
}

extension CareStore {
    /// A patient's event history, newest first (the first page), for tests.
    func patientEvents(_ patientID: UUID, limit: Int = 100, by caller: Caller) async throws -> [FeedEvent] {
        try await patientEventsPage(patientID, limit: limit, by: caller).items
    }
}

import CareDomain
import CoreFormats
import Foundation
import PQ
import Synchronization

/// A prior-authorisation check: the referral, and the payer's criteria evaluated against the
/// patient's records today (docs/prior-authorisation.md).
public struct PriorAuthCheck: Sendable {
    public var referral: ReferralSummary
    public var patientID: UUID
    public var evaluation: PriorAuthEvaluation
}

/// A contraindication screen as recorded.
public struct RecordedScreen: Sendable {
    public var id: UUID
    public var screen: ContraindicationScreen
    public var task: TaskSummary
}

extension CareStore {
    /// The screening handoff of each treatment, by its playbook step.
    static let screeningSteps: [String: ScreenTreatment] = ["tms.contraindications": .tms, "ect.workup": .ect]

    /// Completes the psychiatrist's screening handoff (TMS: `tms.contraindications`; ECT:
    /// `ect.workup`) with the checklist: the screen and the task's completion commit together.
    public func completeScreening(
        taskID: UUID, answers: [ContraindicationItem: Bool], note: String?, by caller: Caller
    ) async throws -> RecordedScreen {
        let screenID = UUID()
        let recorded = Recorded()
        let task = try await completeTask(taskID, evidence: nil, by: caller) { context, task in
            let step = try await context.connection.query(
                "SELECT h.step_key FROM handoffs h JOIN tasks t ON t.handoff_id = h.id WHERE t.id = \(task.id)"
            ).firstRow?.decode(String.self, at: 0)
            guard let treatment = step.flatMap({ Self.screeningSteps[$0] }) else {
                throw StoreError.invalid(
                    """
                    task \(task.id.lowercasedString) is not a TMS or ECT screening handoff: the screen completes the \
                    psychiatrist's handoff a TMS or ECT referral made
                    """
                )
            }
            try context.authorize(.screenContraindications, teamID: task.teamID, patientID: task.patientID)
            let actorID = try Self.member(caller, "completes a screen")
            let screen = ContraindicationScreen(
                treatment: treatment, answers: answers, completedAt: Date(),
                note: note.flatMap { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : $0 })
            do throws(InvalidValue) { try screen.validate() } catch { throw StoreError.invalidValue(error) }
            let stored = Dictionary(uniqueKeysWithValues: answers.map { ($0.key.rawValue, $0.value) })
            try await context.connection.query(
                """
                INSERT INTO contraindication_screens (id, patient_id, treatment, answers, note, task_id, completed_by)
                VALUES (\(screenID), \(task.patientID), \(treatment.rawValue), \(PQJSON(stored))::jsonb,
                    \(screen.note ?? ""), \(task.id), \(actorID))
                """)
            try await context.connection.query(
                """
                UPDATE tasks SET evidence = \(Self.screenEvidence(screen)) WHERE id = \(task.id)
                """)
            recorded.screen.withLock { $0 = screen }
            return ["screen_id": screenID.lowercasedString, "screen_findings": "\(screen.findings.count)"]
        }
        guard let screen = recorded.screen.withLock({ $0 }) else {
            throw StoreError.invalid("the screen was not recorded")
        }
        return RecordedScreen(id: screenID, screen: screen, task: task)
    }

    final class Recorded: Sendable {
        let screen = Mutex<ContraindicationScreen?>(nil)
    }

    static func screenEvidence(_ screen: ContraindicationScreen) -> String {
        let findings = screen.findings
        return "\(screen.treatment.spoken) contraindication screen: "
            + (findings.isEmpty ? "nothing found" : "found \(findings.map(\.question).joined(separator: "; "))")
            + (screen.note.map { ". \($0)" } ?? "")
    }

    /// Records (or clears, with nil) a patient's date of birth.
    public func setBirthDate(patientID: UUID, _ birthDate: Date?, by caller: Caller) async throws {
        if let birthDate {
            guard birthDate >= Date(timeIntervalSince1970: -2_208_988_800) else {
                throw StoreError.invalidValue(
                    InvalidValue(field: "birth_date", message: "a date of birth before 1900 cannot be right"))
            }
        }
        try await command(caller) { context in
            let calendar = try await context.patient(patientID, for: .documentPriorAuthorisation).calendar
            // Today on the team's calendar at the latest (docs/time-zones.md).
            if let birthDate, DayText.startOfDay(birthDate) > calendar.today(at: Date()) {
                let today = DayText.format(calendar.today(at: Date()))
                throw StoreError.invalidValue(
                    InvalidValue(
                        field: "birth_date",
                        message:
                            """
                            a date of birth cannot be in the future; it can be today (\(today) in \(calendar.name), \
                            the team's time zone) at the latest
                            """,
                        accepted: ["on or before \(today)"]))
            }
            try await context.connection.query(
                """
                UPDATE patients SET birth_date = \(birthDate.map(DayText.format)), updated_at = now() WHERE id = \
                \(patientID)::uuid
                """
            )
        }
    }

    /// Documents a statement a payer reads (`rapid-response`, `anaesthesia-workup`,
    /// `no-psychotherapy`, ...): the latest of a key is the one criteria read.
    public func documentForPriorAuth(patientID: UUID, key: String, text: String, by caller: Caller) async throws -> UUID
    {
        let text = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard key.range(of: "^[a-z][a-z0-9-]{0,63}$", options: .regularExpression) != nil else {
            throw StoreError.invalidValue(
                InvalidValue(
                    field: "key", message: "a key is lower-case letters, digits and hyphens, such as rapid-response",
                    accepted: Self.statementKeys))
        }
        guard !text.isEmpty, text.count <= 2000 else {
            throw StoreError.invalidValue(
                InvalidValue(field: "text", message: "say what is documented, in at most 2,000 characters"))
        }
        return try await command(caller) { context in
            _ = try await context.patientTeam(patientID, for: .documentPriorAuthorisation)
            let actorID = try Self.member(caller, "documents for a prior authorisation")
            return try await context.connection.query(
                """
                INSERT INTO prior_auth_statements (patient_id, key, text, recorded_by) VALUES (\(patientID), \(key),
                    \(text), \(actorID))
                RETURNING id
                """
            )[0].decode(UUID.self, at: 0)
        }
    }

    /// The keys the default criteria sets read, for the refusal of an ill-formed one.
    static var statementKeys: [String] {
        var keys: Set<String> = ["no-psychotherapy"]
        func walk(_ criterion: Criterion) {
            switch criterion {
            case .documented(let rule): keys.insert(rule.key)
            case .anyOf(let group), .allOf(let group): group.criteria.forEach(walk)
            default: break
            }
        }
        CriteriaSet.defaults.flatMap(\.criteria).forEach(walk)
        return keys.sorted()
    }

    /// The payer's criteria for a TMS, ECT or esketamine referral, evaluated against the
    /// patient's records now: what is met, by what, and what to record for the rest.
    public func priorAuthorisationCheck(
        referralID: UUID, criteriaSet: String? = nil, asOf: Date = Date(), by caller: Caller
    ) async throws -> PriorAuthCheck {
        try await command(caller) { context in
            let patientID = try await context.connection.query(
                "SELECT patient_id FROM referrals WHERE id = \(referralID)"
            ).firstRow?.decode(UUID.self, at: 0)
            guard let patientID else { throw StoreError.notFound("referral \(referralID.lowercasedString)") }
            let teamID = try await context.patientTeam(patientID, for: .readClinical)
            guard
                let referral = try await context.loadReferrals(patientID: patientID).first(where: {
                    $0.id == referralID
                })
            else { throw StoreError.notFound("referral \(referralID.lowercasedString)") }
            let criteria = try await context.criteriaSet(named: criteriaSet, treatment: referral.kind, teamID: teamID)
                .set
            let facts = try await context.priorAuthFacts(patientID: patientID, asOf: asOf)
            return PriorAuthCheck(referral: referral, patientID: patientID, evaluation: criteria.evaluate(facts))
        }
    }
}

extension CommandContext {
    /// What prior-authorisation criteria read of a patient (entered-in-error records left out).
    func priorAuthFacts(patientID: UUID, asOf: Date) async throws -> PriorAuthFacts {
        let row = try await connection.query(
            """
            SELECT coalesce(p.episode_started_on, p.enrolled_on), p.birth_date, t.time_zone
            FROM patients p JOIN teams t ON t.id = p.team_id WHERE p.id = \(patientID)
            """
        )[0]
        let (episode, birth, zone) = try row.decode(Date.self, Date?.self, String.self)
        let calendar = LocalCalendar(identifier: zone)
        let trials = try await loadTrials(patientID: patientID, reference: try await referenceData(), asOf: asOf)
            .filter { $0.summary.enteredInError == nil }
            .map { loaded in
                let trial = loaded.summary
                return PacketTrial(
                    id: trial.id, kind: trial.kind, name: trial.drug ?? trial.therapy ?? trial.kind.rawValue,
                    drugClass: loaded.drugClass, start: trial.startedOn, stop: trial.stoppedOn,
                    adequacy: trial.adequacy,
                    isFailed: trial.isFailed)
            }
        let scores = try await connection.query(
            """
            SELECT id, instrument, total, taken_at FROM measurements
            WHERE patient_id = \(patientID) AND entered_in_error_at IS NULL ORDER BY taken_at
            """
        ) { row -> PacketScore? in
            let (id, instrument, total, taken) = try row.decode(UUID.self, String.self, Int.self, Date.self)
            guard let instrument = Instrument(rawValue: instrument), let score = try? Score(instrument, total: total)
            else {
                return nil
            }
            return PacketScore(id: id, score: score, takenAt: taken)
        }.compactMap { $0 }
        let screens = try await connection.query(
            """
            SELECT treatment, answers, completed_at, note FROM contraindication_screens WHERE patient_id = \(patientID)
                ORDER BY completed_at
            """
        ) { row -> ContraindicationScreen? in
            let (treatment, answers, completed, note) = try row.decode(
                String.self, PQJSON<[String: Bool]>.self, Date.self, String.self)
            guard let treatment = ScreenTreatment(rawValue: treatment) else { return nil }
            var checked: [ContraindicationItem: Bool] = [:]
            for (key, value) in answers.value {
                if let item = ContraindicationItem(rawValue: key) { checked[item] = value }
            }
            return ContraindicationScreen(
                treatment: treatment, answers: checked, completedAt: completed, note: note.isEmpty ? nil : note)
        }.compactMap { $0 }
        var documented: [String: String] = [:]
        for row in try await connection.query(
            """
            SELECT DISTINCT ON (key) key, text, recorded_at FROM prior_auth_statements
            WHERE patient_id = \(patientID) ORDER BY key, recorded_at DESC
            """)
        {
            let (key, text, at) = try row.decode(String.self, String.self, Date.self)
            documented[key] = "\(text) (documented \(calendar.dayText(at)))"
        }
        return PriorAuthFacts(
            asOf: asOf, episodeStart: episode, birthDate: birth, trials: trials, scores: scores,
            noPsychotherapyReason: documented["no-psychotherapy"], screens: screens, documented: documented,
            calendar: calendar)
    }
}

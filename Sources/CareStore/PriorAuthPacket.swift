import CareDomain
import CoreFormats
import Foundation
import PQ

/// A prior-authorisation packet as made (docs/prior-authorisation.md, "The packet"): minimum
/// necessary (no notes), immutable once stored. Days are YYYY-MM-DD; instants RFC 3339; ids
/// lower-case text.
public struct PriorAuthPacket: Sendable, Equatable, Codable {
    public struct Patient: Sendable, Equatable, Codable {
        public var id: String
        public var name: String
        public var mrn: String
        public var birthDate: String?
        public var team: String
        public var enrolledOn: String
        public var episodeStartedOn: String
    }
    public struct Referral: Sendable, Equatable, Codable {
        public var id: String
        public var kind: String
        public var targetClinic: String
        public var status: String
        public var madeOn: String
        public var reason: String?
    }
    public struct Person: Sendable, Equatable, Codable {
        public var id: String?
        public var name: String
    }
    public struct Dose: Sendable, Equatable, Codable {
        public var from: String
        public var dailyDoseMg: Double
    }
    public struct ScoreLine: Sendable, Equatable, Codable {
        public var id: String
        public var instrument: String
        public var total: Int
        public var band: String
        public var takenAt: Date
    }
    public struct Trial: Sendable, Equatable, Codable {
        public var id: String
        public var kind: String
        public var name: String
        public var drugClass: String?
        public var doses: [Dose]
        public var startedOn: String
        public var stoppedOn: String?
        public var weeksAtAdequateDose: Double?
        public var isAdequate: Bool?
        public var adequacy: String?
        public var adherence: Double?
        public var sessions: Int?
        public var outcome: String?
        public var isFailed: Bool
        public var stopReason: String?
        /// The latest PHQ-9 (else MADRS) on or before the start, and on or before the stop (or now).
        public var scoreBefore: ScoreLine?
        public var scoreAfter: ScoreLine?
    }
    public struct Input: Sendable, Equatable, Codable {
        public var name: String
        public var value: String
    }
    public struct Staging: Sendable, Equatable, Codable {
        public var isTrd: Bool
        public var failedTrials: Int
        public var distinctClasses: Int
        public var trdInputs: [Input]
        public var thaseRushStage: Int
        public var thaseRushInputs: [Input]
        public var maudsleyTotal: Int?
        public var maudsleyBand: String?
        public var maudsleyInputs: [Input]
    }
    public struct Screen: Sendable, Equatable, Codable {
        public var treatment: String
        public var completedOn: String
        public var answers: [String: Bool]
        public var findings: [String]
        public var note: String?
    }
    public struct Criterion: Sendable, Equatable, Codable {
        public var statement: String
        public var isMet: Bool
        public var evidence: [String]
        public var toMeet: String?
        public var parts: [Criterion]?

        init(_ result: CriterionResult) {
            statement = result.statement
            isMet = result.isMet
            evidence = result.evidence
            toMeet = result.toMeet
            parts = result.parts.isEmpty ? nil : result.parts.map(Criterion.init)
        }
    }

    public var madeAt: Date
    public var madeBy: Person
    public var criteriaSet: String
    public var allMet: Bool
    public var sessionsRequested: Int?
    public var patient: Patient
    public var referral: Referral
    public var prescriber: Person?
    public var medicationTrials: [Trial]
    public var otherCourses: [Trial]
    public var scores: [ScoreLine]
    public var staging: Staging
    public var screens: [Screen]
    public var documented: [String: String]
    public var criteria: [Criterion]
    /// The denial this packet answers, when the referral's packet before it was denied.
    public var answersDenial: Denial? = nil
    /// Team-visible notes, only when asked for (never a psychotherapy note).
    public var notes: [Note]? = nil
    /// The team's time zone: the packet's days (a score's, the referral's) are the team's
    /// (docs/time-zones.md). Absent from packets made before it was kept (they are UTC).
    public var timeZone: String? = nil

    public struct Note: Sendable, Equatable, Codable {
        public var kind: String
        public var author: String
        public var writtenAt: Date
        public var text: String
    }

    public struct Denial: Sendable, Equatable, Codable {
        public var packetId: String
        public var reason: String
        public var deniedOn: String
    }

    /// How packets are stored and served: snake_case keys, RFC 3339 instants.
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.iso8601(date, fractionDigits: 3, rounding: .down))
        }
        return encoder
    }()

    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = Timestamp.parse(text, rfc3339: true) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an instant: \(text)")
            }
            return date
        }
        return decoder
    }()
}

/// A stored packet: its id, and the document as it was made.
public struct StoredPacket: Sendable {
    public var id: UUID
    public var referralID: UUID
    public var patientID: UUID
    public var packet: PriorAuthPacket
    /// Where it stands with the payer, and each move so far (oldest first).
    public var status: PriorAuthStatus = .drafted
    public var decisions: [Decision] = []

    public struct Decision: Sendable, Equatable {
        public var status: PriorAuthStatus
        public var sessionsAuthorised: Int?
        public var reason: String?
        public var decidedAt: Date
    }
}

/// A move of a packet's authorisation, and the handoffs it made (a denial's).
public struct PriorAuthMove: Sendable {
    public var packetID: UUID
    public var referralID: UUID
    public var status: PriorAuthStatus
    public var handoffIDs: [UUID]
}

extension CareStore {
    /// Makes and keeps a packet for a TMS, ECT or esketamine referral: the patient (no notes),
    /// the referral and its prescriber, every trial with its doses, adequacy, adherence and the
    /// scores around it, the score timeline, TRD status and stages with their inputs, the
    /// contraindication screens, what was documented, and each criterion with its evidence. One
    /// transaction: what is read is what is kept.
    public func makePriorAuthPacket(
        referralID: UUID, criteriaSet: String? = nil, includeNotes: Bool = false, by caller: Caller
    ) async throws -> StoredPacket {
        try await command(caller, isolation: .repeatableRead) { context in
            let row = try await context.connection.query(
                """
                SELECT r.patient_id, m.id, m.display_name FROM referrals r LEFT JOIN members m ON m.id = r.made_by
                WHERE r.id = \(referralID)
                """
            ).firstRow
            guard let row else { throw StoreError.notFound("referral \(referralID.lowercasedString)") }
            let (patientID, prescriberID, prescriberName) = try row.decode(UUID.self, UUID?.self, String?.self)
            let teamID = try await context.patientTeam(patientID, for: .makePriorAuthPacket)
            guard
                let referral = try await context.loadReferrals(patientID: patientID).first(where: {
                    $0.id == referralID
                })
            else { throw StoreError.notFound("referral \(referralID.lowercasedString)") }
            guard referral.enteredInError == nil else {
                throw StoreError.invalid(
                    "referral \(referralID.lowercasedString) was entered in error: no packet is made for it")
            }
            let chosen = try await context.criteriaSet(named: criteriaSet, treatment: referral.kind, teamID: teamID)
            let criteria = chosen.set
            let actorID = try Self.member(caller, "makes a packet")
            let now = Date()
            let summary = try await context.patientSummary(patientID, asOf: now)
            let facts = try await context.priorAuthFacts(patientID: patientID, asOf: now)
            let evaluation = criteria.evaluate(facts)
            let head = try await context.connection.query(
                """
                SELECT p.birth_date, t.name, coalesce(p.episode_started_on, p.enrolled_on), m.display_name
                FROM patients p JOIN teams t ON t.id = p.team_id, members m WHERE p.id = \(patientID) AND m.id =
                    \(actorID)
                """)[0]
            let (birth, teamName, episode, actorName) = try head.decode(Date?.self, String.self, Date.self, String.self)
            let calendar = facts.calendar

            let scores = summary.scores.filter { $0.instrument != .gad7 }.map {
                PriorAuthPacket.ScoreLine(
                    id: $0.id.lowercasedString, instrument: $0.instrument.rawValue, total: $0.total, band: $0.band,
                    takenAt: $0.takenAt)
            }
            func latest(onOrBefore day: Date) -> PriorAuthPacket.ScoreLine? {
                // To the end of that day on the team's calendar (docs/time-zones.md).
                let until = calendar.midnight(of: calendar.day(day, adding: 1))
                let before = scores.filter { $0.takenAt < until }
                return before.last { $0.instrument == Instrument.phq9.rawValue } ?? before.last
            }
            let classes = Dictionary(
                facts.trials.map { ($0.id, $0.drugClass?.rawValue) }, uniquingKeysWith: { first, _ in first })
            let trials = summary.trials.filter { $0.enteredInError == nil }.map { trial in
                PriorAuthPacket.Trial(
                    id: trial.id.lowercasedString, kind: trial.kind.rawValue,
                    name: trial.drug ?? trial.therapy ?? trial.kind.rawValue,
                    drugClass: classes[trial.id] ?? nil,
                    doses: trial.doses.map { .init(from: DayText.format($0.from), dailyDoseMg: $0.dailyDoseMg) },
                    startedOn: DayText.format(trial.startedOn), stoppedOn: trial.stoppedOn.map(DayText.format),
                    weeksAtAdequateDose: trial.adequacy.map { ($0.weeksAtAdequateDose * 10).rounded() / 10 },
                    isAdequate: trial.adequacy?.isAdequate, adequacy: trial.adequacy?.reason,
                    adherence: trial.adherence,
                    sessions: trial.sessions, outcome: trial.outcome?.rawValue, isFailed: trial.isFailed,
                    stopReason: trial.stopReason, scoreBefore: latest(onOrBefore: trial.startedOn),
                    scoreAfter: latest(onOrBefore: trial.stoppedOn ?? now))
            }
            let inputs: (RuleInputs) -> [PriorAuthPacket.Input] = {
                $0.entries.map { .init(name: $0.name, value: $0.value) }
            }
            var packet = PriorAuthPacket(
                madeAt: now, madeBy: .init(id: actorID.lowercasedString, name: actorName),
                criteriaSet: criteria.name + (chosen.version.map { " (version \($0))" } ?? ""),
                allMet: evaluation.allMet, sessionsRequested: criteria.sessionsRequested,
                patient: .init(
                    id: patientID.lowercasedString, name: summary.displayName, mrn: summary.mrn,
                    birthDate: birth.map(DayText.format),
                    team: teamName, enrolledOn: DayText.format(summary.enrolledOn),
                    episodeStartedOn: DayText.format(episode)),
                referral: .init(
                    id: referral.id.lowercasedString, kind: referral.kind.rawValue, targetClinic: referral.targetClinic,
                    status: referral.status.rawValue, madeOn: calendar.dayText(referral.createdAt),
                    reason: referral.reason),
                prescriber: prescriberName.map { .init(id: prescriberID?.lowercasedString, name: $0) },
                medicationTrials: trials.filter { $0.kind == "medication" || $0.kind == "augmentation" },
                otherCourses: trials.filter { $0.kind == "psychotherapy" || $0.kind == "neuromodulation" },
                scores: scores,
                staging: .init(
                    isTrd: summary.trd.isTRD, failedTrials: summary.trd.failedTrials,
                    distinctClasses: summary.trd.distinctClasses, trdInputs: inputs(summary.trd.inputs),
                    thaseRushStage: summary.thaseRush.stage.rawValue, thaseRushInputs: inputs(summary.thaseRush.inputs),
                    maudsleyTotal: summary.maudsley?.total, maudsleyBand: summary.maudsley?.band.rawValue,
                    maudsleyInputs: summary.maudsley.map { inputs($0.inputs) } ?? []),
                screens: facts.screens.map { screen in
                    .init(
                        treatment: screen.treatment.rawValue, completedOn: calendar.dayText(screen.completedAt),
                        answers: Dictionary(uniqueKeysWithValues: screen.answers.map { ($0.key.rawValue, $0.value) }),
                        findings: screen.findings.map(\.rawValue), note: screen.note)
                },
                documented: facts.documented, criteria: evaluation.results.map(PriorAuthPacket.Criterion.init))
            packet.timeZone = calendar.name
            if includeNotes {
                packet.notes = try await context.connection.query(
                    """
                    SELECT n.kind, a.display_name, n.created_at, n.body FROM notes n JOIN members a ON a.id =
                        n.author_id
                    WHERE n.patient_id = \(patientID) AND n.kind <> 'psychotherapy' AND n.entered_in_error_at IS NULL
                    ORDER BY n.created_at, n.id
                    """
                ) { row in
                    let (kind, author, written, text) = try row.decode(String.self, String.self, Date.self, String.self)
                    return PriorAuthPacket.Note(kind: kind, author: author, writtenAt: written, text: text)
                }
            }
            // The referral's latest packet, if it was denied: this one answers it.
            if let denied = try await context.connection.query(
                """
                SELECT p.id, d.reason, d.decided_at FROM prior_auth_packets p
                JOIN prior_auth_decisions d ON d.packet_id = p.id AND d.status = 'denied'
                WHERE p.referral_id = \(referralID)
                  AND p.made_at = (SELECT max(made_at) FROM prior_auth_packets WHERE referral_id = \(referralID))
                """
            ).firstRow {
                let (deniedID, reason, at) = try denied.decode(UUID.self, String.self, Date.self)
                packet.answersDenial = .init(
                    packetId: deniedID.lowercasedString, reason: reason, deniedOn: calendar.dayText(at))
            }
            let json = String(decoding: try PriorAuthPacket.encoder.encode(packet), as: UTF8.self)
            let id = try await context.connection.query(
                """
                INSERT INTO prior_auth_packets (referral_id, patient_id, criteria_set, criteria_version, all_met,
                    content, made_by, answers_packet_id)
                VALUES (\(referralID), \(patientID), \(criteria.name), \(chosen.version), \(evaluation.allMet),
                    \(json)::jsonb, \(actorID),
                        \(packet.answersDenial.flatMap { UUID(uuidString: $0.packetId) }))
                RETURNING id
                """)[0].decode(UUID.self, at: 0)
            return StoredPacket(id: id, referralID: referralID, patientID: patientID, packet: packet)
        }
    }

    /// A kept packet, to the team's clinicians (another team's: 404); every read is audited.
    public func priorAuthPacket(_ id: UUID, by caller: Caller) async throws -> StoredPacket {
        try await command(caller) { context in
            let row = try await context.connection.query(
                "SELECT referral_id, patient_id, content::text FROM prior_auth_packets WHERE id = \(id)"
            ).firstRow
            guard let row else { throw StoreError.notFound("packet \(id.lowercasedString)") }
            let (referralID, patientID, json) = try row.decode(UUID.self, UUID.self, String.self)
            _ = try await context.patientTeam(patientID, for: .readClinical)
            let packet = try PriorAuthPacket.decoder.decode(PriorAuthPacket.self, from: Data(json.utf8))
            var stored = StoredPacket(id: id, referralID: referralID, patientID: patientID, packet: packet)
            stored.decisions = try await context.decisions(of: id)
            stored.status = stored.decisions.last?.status ?? .drafted
            return stored
        }
    }
}

extension CommandContext {
    /// A packet's moves, oldest first.
    func decisions(of packetID: UUID) async throws -> [StoredPacket.Decision] {
        try await connection.query(
            """
            SELECT status, sessions_authorised, reason, decided_at FROM prior_auth_decisions
            WHERE packet_id = \(packetID) ORDER BY decided_at, id
            """
        ) { row in
            let (status, sessions, reason, at) = try row.decode(String.self, Int?.self, String?.self, Date.self)
            guard let status = PriorAuthStatus(rawValue: status) else {
                throw PQError(
                    .decoding, "a decision of packet \(packetID.lowercasedString) has an unknown status \(status)")
            }
            return StoredPacket.Decision(status: status, sessionsAuthorised: sessions, reason: reason, decidedAt: at)
        }
    }
}

extension CareStore {
    /// The packets made for a referral, newest first, each with where it stands.
    public func priorAuthPackets(referralID: UUID, by caller: Caller) async throws -> [(
        id: UUID, madeAt: Date, allMet: Bool, status: PriorAuthStatus
    )] {
        try await command(caller) { context in
            let patientID = try await context.connection.query(
                "SELECT patient_id FROM referrals WHERE id = \(referralID)"
            ).firstRow?.decode(UUID.self, at: 0)
            guard let patientID else { throw StoreError.notFound("referral \(referralID.lowercasedString)") }
            _ = try await context.patientTeam(patientID, for: .readClinical)
            return try await context.connection.query(
                """
                SELECT p.id, p.made_at, p.all_met,
                       coalesce((SELECT d.status FROM prior_auth_decisions d WHERE d.packet_id = p.id ORDER BY
                           d.decided_at DESC, d.id DESC LIMIT 1), 'drafted')
                FROM prior_auth_packets p WHERE p.referral_id = \(referralID) ORDER BY p.made_at DESC, p.id
                """
            ) { row in
                let (id, made, allMet, status) = try row.decode(UUID.self, Date.self, Bool.self, String.self)
                return (id, made, allMet, PriorAuthStatus(rawValue: status) ?? .drafted)
            }
        }
    }

    /// Moves a packet's authorisation: submitted; then approved with the sessions authorised, or
    /// denied with the payer's reason. Each move is an event; a denial makes the playbook's
    /// handoffs (once: a packet is denied at most once). Moves of one referral's packets wait for
    /// each other on the referral's row (the packet itself is never written again).
    public func movePriorAuth(
        packetID: UUID, to status: PriorAuthStatus, sessions: Int?, reason: String?, by caller: Caller
    ) async throws -> PriorAuthMove {
        let reason = reason?.trimmingCharacters(in: .whitespacesAndNewlines).nilIfEmpty
        if status == .approved, !(1...1000).contains(sessions ?? 0) {
            throw StoreError.invalidValue(
                InvalidValue(
                    field: "sessions", message: "an approval says how many sessions the payer authorised (1 to 1000)"))
        }
        if status == .denied, reason == nil {
            throw StoreError.invalidValue(InvalidValue(field: "reason", message: "a denial records the payer's reason"))
        }
        return try await command(caller) { context in
            let row = try await context.connection.query(
                """
                SELECT p.referral_id, p.patient_id, pt.team_id, r.kind FROM prior_auth_packets p
                JOIN patients pt ON pt.id = p.patient_id JOIN referrals r ON r.id = p.referral_id
                WHERE p.id = \(packetID) FOR UPDATE OF r
                """
            ).firstRow
            guard let row else { throw StoreError.notFound("packet \(packetID.lowercasedString)") }
            let (referralID, patientID, teamID, kind) = try row.decode(UUID.self, UUID.self, UUID.self, String.self)
            try context.authorize(.makePriorAuthPacket, teamID: teamID, patientID: patientID)
            let actorID = try Self.member(caller, "moves a prior authorisation")
            let current = try await context.decisions(of: packetID).last?.status ?? .drafted
            do throws(TransitionError) { try current.moving(to: status) } catch {
                throw StoreError.moveNotAllowed(error)
            }
            var payload = [
                "packet_id": packetID.lowercasedString, "referral_id": referralID.lowercasedString,
                "from": current.rawValue,
                "to": status.rawValue,
            ]
            if let sessions, status == .approved { payload["sessions"] = "\(sessions)" }
            if let reason { payload["reason"] = reason }
            let type: EventType =
                switch status {
                case .submitted: .priorAuthSubmitted
                case .approved: .priorAuthApproved
                default: .priorAuthDenied
                }
            let event = try await context.append(
                type, teamID: teamID, patientID: patientID, actorID: actorID, payload: payload
            ) { at in
                guard status == .denied else { return nil }
                return PlaybookEvent(
                    type: .priorAuthDenied, occurredAt: at, referralKind: ReferralKind(rawValue: kind),
                    summary: "the payer denied the \(kind.uppercased()) prior authorisation: \(reason ?? "")",
                    subjectID: referralID)
            }
            try await context.connection.query(
                """
                INSERT INTO prior_auth_decisions (packet_id, patient_id, status, sessions_authorised, reason, event_id,
                    decided_by)
                VALUES (\(packetID), \(patientID), \(status.rawValue), \(status == .approved ? sessions : nil),
                    \(reason), \(event.id), \(actorID))
                """)
            return PriorAuthMove(
                packetID: packetID, referralID: referralID, status: status, handoffIDs: event.handoffIDs)
        }
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}

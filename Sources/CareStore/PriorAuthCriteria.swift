import CareDomain
import CoreFormats
import Foundation
import PQ

/// A criteria set as a team has it: a built-in default, or a payer's stored version.
public struct TeamCriteriaSet: Sendable, Equatable {
    public var set: CriteriaSet
    /// nil for a built-in default.
    public var version: Int?
    public var createdAt: Date?
}

extension CareStore {
    /// The criteria sets a team's checks and packets may use: the built-in defaults and the
    /// latest version of each payer's set.
    public func criteriaSets(teamID: UUID, by caller: Caller) async throws -> [TeamCriteriaSet] {
        try await command(caller) { context in
            try await context.requireTeam(teamID)
            try context.authorize(.readTeam, teamID: teamID, patientID: nil)
            return try await context.criteriaSets(teamID: teamID)
        }
    }

    /// Adds a payer's set, or a new version of one (the team's admins); audited.
    public func saveCriteriaSet(teamID: UUID, _ set: CriteriaSet, by caller: Caller) async throws -> TeamCriteriaSet {
        let name = set.name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...200).contains(name.count) else {
            throw StoreError.invalidValue(
                InvalidValue(field: "name", message: "a criteria set needs a name (at most 200 characters)"))
        }
        guard set.treatment != .other else {
            throw StoreError.invalidValue(
                InvalidValue(
                    field: "treatment", message: "criteria sets are for tms, ect or esketamine",
                    accepted: ["tms", "ect", "esketamine"]))
        }
        guard !set.criteria.isEmpty else {
            throw StoreError.invalidValue(
                InvalidValue(field: "criteria", message: "a criteria set needs at least one criterion"))
        }
        if CriteriaSet.defaults.contains(where: { $0.name.lowercased() == name.lowercased() }) {
            throw StoreError.invalidValue(
                InvalidValue(field: "name", message: "'\(name)' is a built-in set's name: give the payer's set its own")
            )
        }
        return try await command(caller, asService: true) { context in
            try await context.requireTeam(teamID)
            try context.authorize(.manageTeam, teamID: teamID, patientID: nil)
            let actorID = try Self.member(caller, "saves a criteria set")
            let criteria = String(decoding: try JSONEncoder().encode(set.criteria), as: UTF8.self)
            let row = try await context.connection.query(
                """
                INSERT INTO prior_auth_criteria_sets (team_id, name, version, treatment, criteria, sessions_requested,
                    created_by)
                SELECT \(teamID), \(name), coalesce(max(version), 0) + 1, \(set.treatment.rawValue), \(criteria)::jsonb,
                    \(set.sessionsRequested), \(actorID)
                FROM prior_auth_criteria_sets WHERE team_id = \(teamID) AND lower(name) = lower(\(name))
                RETURNING version, created_at
                """)[0]
            let (version, created) = try row.decode(Int.self, Date.self)
            var saved = set
            saved.name = name
            return TeamCriteriaSet(set: saved, version: version, createdAt: created)
        }
    }
}

extension CommandContext {
    func criteriaSets(teamID: UUID) async throws -> [TeamCriteriaSet] {
        let stored = try await connection.query(
            """
            SELECT DISTINCT ON (lower(name)) name, version, treatment, criteria::text, sessions_requested, created_at
            FROM prior_auth_criteria_sets WHERE team_id = \(teamID) ORDER BY lower(name), version DESC
            """
        ) { row -> TeamCriteriaSet in
            let (name, version, treatment, criteria, sessions, created) = try row.decode(
                String.self, Int.self, String.self, String.self, Int?.self, Date.self)
            guard let kind = ReferralKind(rawValue: treatment) else {
                throw PQError(.decoding, "criteria set \(name) has an unknown treatment \(treatment)")
            }
            let decoded = try JSONDecoder().decode([Criterion].self, from: Data(criteria.utf8))
            return TeamCriteriaSet(
                set: CriteriaSet(name: name, treatment: kind, criteria: decoded, sessionsRequested: sessions),
                version: version, createdAt: created)
        }
        return CriteriaSet.defaults.map { TeamCriteriaSet(set: $0, version: nil, createdAt: nil) } + stored
    }

    /// The set a check or packet of `treatment` uses: `name` (a payer's latest version, or a
    /// built-in), else the treatment's default.
    func criteriaSet(named name: String?, treatment: ReferralKind, teamID: UUID) async throws -> TeamCriteriaSet {
        let sets = try await criteriaSets(teamID: teamID)
        guard let name else {
            guard let set = sets.first(where: { $0.version == nil && $0.set.treatment == treatment }) else {
                throw StoreError.invalid(
                    """
                    prior authorisation criteria are kept for TMS, ECT and esketamine referrals, not \
                    \(treatment.rawValue)
                    """
                )
            }
            return set
        }
        let named = sets.filter { $0.set.name.lowercased() == name.lowercased() }
        guard let set = named.last else {
            throw StoreError.invalidValue(
                InvalidValue(
                    field: "criteria_set", message: "the team has no criteria set named '\(name)'",
                    accepted: sets.filter { $0.set.treatment == treatment }.map(\.set.name)))
        }
        guard set.set.treatment == treatment else {
            throw StoreError.invalidValue(
                InvalidValue(
                    field: "criteria_set",
                    message:
                        "'\(set.set.name)' is for \(set.set.treatment.rawValue) referrals, not \(treatment.rawValue)",
                    accepted: sets.filter { $0.set.treatment == treatment }.map(\.set.name)))
        }
        return set
    }
}

import Foundation

/// A criterion's verdict as GET /v1/referrals/{id}/prior-authorisation answers it
/// (docs/prior-authorisation.md).
public struct PriorAuthCriterionOut: Codable, Sendable, Equatable {
    public var statement: String
    public var isMet: Bool
    public var evidence: [String]
    public var trialIds: [String]
    public var scoreIds: [String]
    public var toMeet: String?
    public var parts: [PriorAuthCriterionOut]?

    public init(
        statement: String, isMet: Bool, evidence: [String], trialIds: [String], scoreIds: [String], toMeet: String?,
        parts: [PriorAuthCriterionOut]?
    ) {
        self.statement = statement
        self.isMet = isMet
        self.evidence = evidence
        self.trialIds = trialIds
        self.scoreIds = scoreIds
        self.toMeet = toMeet
        self.parts = parts
    }
}

/// GET /v1/referrals/{id}/prior-authorisation
public struct PriorAuthCheckOut: Codable, Sendable, Equatable {
    public var referralId: String
    public var patientId: String
    public var treatment: String
    public var criteriaSet: String
    public var asOf: String
    public var allMet: Bool
    public var unmet: Int
    public var criteria: [PriorAuthCriterionOut]

    public init(
        referralId: String, patientId: String, treatment: String, criteriaSet: String, asOf: String, allMet: Bool,
        unmet: Int, criteria: [PriorAuthCriterionOut]
    ) {
        self.referralId = referralId
        self.patientId = patientId
        self.treatment = treatment
        self.criteriaSet = criteriaSet
        self.asOf = asOf
        self.allMet = allMet
        self.unmet = unmet
        self.criteria = criteria
    }
}

/// GET /v1/referrals/{id}/prior-auth-packets: one packet and where it stands.
public struct PriorAuthPacketItem: Codable, Sendable, Equatable {
    public var id: String
    public var madeAt: String
    public var allMet: Bool
    public var status: String
}

/// POST /v1/prior-auth-packets/{id}/status
public struct PriorAuthMoveOut: Codable, Sendable, Equatable {
    public var packetId: String
    public var referralId: String
    public var status: String
    public var handoffIds: [String]
}

/// POST /v1/referrals/{id}/prior-auth-packets answers the packet with its ids; the CLI reads these.
public struct PriorAuthPacketRef: Codable, Sendable, Equatable {
    public var id: String
    public var referralId: String
    public var patientId: String
}

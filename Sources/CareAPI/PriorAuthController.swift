import CareDomain
import CareStore
import CareWire
import CoreFormats
import Foundation
import Hummingbird

/// Prior authorisation (docs/prior-authorisation.md): the contraindication screen that completes
/// the psychiatrist's screening handoff, what the team documents for a payer, and the check of
/// a referral against the payer's criteria before a packet is made.
struct PriorAuthController: Sendable {
    let store: CareStore

    func addRoutes(to v1: RouterGroup<CareRequestContext>) {
        v1.post("tasks/:id/contraindication-screen", use: screen)
        v1.put("patients/:id/birth-date", use: birthDate)
        v1.post("patients/:id/prior-auth-statements", use: document)
        v1.get("referrals/:id/prior-authorisation", use: check)
        v1.post("referrals/:id/prior-auth-packets", use: makePacket)
        v1.get("referrals/:id/prior-auth-packets", use: listPackets)
        v1.get("prior-auth-packets/:id", use: packet)
        v1.post("prior-auth-packets/:id/status", use: movePacket)
        v1.get("teams/:id/prior-auth-criteria", use: criteriaSets)
        v1.post("teams/:id/prior-auth-criteria", use: saveCriteriaSet)
    }

    struct CriteriaSetOut: Encodable, Sendable {
        var name: String
        var treatment: String
        var version: Int?
        var builtIn: Bool
        var sessionsRequested: Int?
        var createdAt: String?
        var criteria: [Criterion]

        init(_ stored: TeamCriteriaSet) {
            name = stored.set.name
            treatment = stored.set.treatment.rawValue
            version = stored.version
            builtIn = stored.version == nil
            sessionsRequested = stored.set.sessionsRequested
            createdAt = stored.createdAt.map(Wire.timestamp)
            criteria = stored.set.criteria
        }
    }

    /// GET /v1/teams/{id}/prior-auth-criteria: the built-in sets and each payer's latest version.
    @Sendable func criteriaSets(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let sets = try await context.acting("prior_auth.criteria.list", request) { caller in
            try await store.criteriaSets(teamID: id, by: caller)
        }
        return try Wire.json(ListPage(items: sets.map(CriteriaSetOut.init), nextCursor: nil))
    }

    /// POST /v1/teams/{id}/prior-auth-criteria: a payer's set, or its next version (admins).
    @Sendable func saveCriteriaSet(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let set = try await request.decodeJSON(CriteriaSet.self, context: context)
        return try await context.respond("prior_auth.criteria.save", request) { caller in
            try await store.saveCriteriaSet(teamID: id, set, by: caller)
        } render: { saved in
            try Wire.answer(CriteriaSetOut(saved), status: .created)
        }
    }

    struct DecisionOut: Encodable, Sendable {
        var status: String
        var sessionsAuthorised: Int?
        var reason: String?
        var decidedAt: String
    }

    struct PacketItem: Encodable, Sendable {
        var id: String
        var madeAt: String
        var allMet: Bool
        var status: String
    }

    /// GET /v1/referrals/{id}/prior-auth-packets: newest first, each with where it stands.
    @Sendable func listPackets(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let packets = try await context.acting("prior_auth.packet.list", request) { caller in
            try await store.priorAuthPackets(referralID: id, by: caller)
        }
        return try Wire.json(
            ListPage(
                items: packets.map {
                    PacketItem(
                        id: $0.id.lower, madeAt: Wire.timestamp($0.madeAt), allMet: $0.allMet,
                        status: $0.status.rawValue)
                }, nextCursor: nil))
    }

    struct MoveOut: Encodable, Sendable {
        var packetId: String
        var referralId: String
        var status: String
        var handoffIds: [String]
    }

    /// POST /v1/prior-auth-packets/{id}/status
    @Sendable func movePacket(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let body = try await request.decodeJSON(PriorAuthStatusChange.self, context: context)
        try checkText(body.reason, "reason", max: 2000)
        guard let status = PriorAuthStatus(rawValue: body.status), status != .drafted else {
            var problem = Problem.invalid("'status' must be submitted, approved or denied")
            problem.field = "status"
            problem.accepted = ["submitted", "approved", "denied"]
            throw problem
        }
        return try await context.respond("prior_auth.move", request) { caller in
            try await store.movePriorAuth(
                packetID: id, to: status, sessions: body.sessions, reason: body.reason, by: caller)
        } render: { move in
            try Wire.answer(
                MoveOut(
                    packetId: move.packetID.lower, referralId: move.referralID.lower, status: move.status.rawValue,
                    handoffIds: move.handoffIDs.map(\.lower)))
        }
    }

    /// A packet as the API answers it: its id and referral, and the document as made.
    static func packetJSON(_ stored: StoredPacket) throws -> [UInt8] {
        let decisions = try Wire.encoder.encode(
            stored.decisions.map {
                DecisionOut(
                    status: $0.status.rawValue, sessionsAuthorised: $0.sessionsAuthorised, reason: $0.reason,
                    decidedAt: Wire.timestamp($0.decidedAt))
            })
        let document = try PriorAuthPacket.encoder.encode(stored.packet)
        var bytes = Array("{\"decisions\":".utf8) + decisions
        bytes += Array(",\"id\":\"\(stored.id.lower)\",\"packet\":".utf8)
        bytes += document
        bytes += Array(
            ",\"patient_id\":\"\(stored.patientID.lower)\",\"referral_id\":\"\(stored.referralID.lower)\"".utf8)
        bytes += Array(",\"status\":\"\(stored.status.rawValue)\"}".utf8)
        return bytes
    }

    /// POST /v1/referrals/{id}/prior-auth-packets
    @Sendable func makePacket(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        var body = PacketBody(criteriaSet: nil)
        if request.headers[.contentLength].map({ $0 != "0" }) ?? (request.headers[.transferEncoding] != nil) {
            body = try await request.decodeJSON(PacketBody.self, context: context)
            try checkText(body.criteriaSet, "criteria_set", max: 200)
        }
        return try await context.respond("prior_auth.packet.make", request) { caller in
            try await store.makePriorAuthPacket(
                referralID: id, criteriaSet: body.criteriaSet, includeNotes: body.includeNotes ?? false, by: caller)
        } render: { stored in
            Wire.answer(
                bytes: try Self.packetJSON(stored), status: .created,
                headers: [.location: "/v1/prior-auth-packets/\(stored.id.lower)"])
        }
    }

    /// GET /v1/prior-auth-packets/{id}?format=json|html|pdf
    @Sendable func packet(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let format = try QueryParameters(request).string("format", maxLength: 10) ?? "json"
        guard ["json", "html", "pdf"].contains(format) else {
            throw Problem.badRequest("'format' must be one of: json, html, pdf")
        }
        let stored = try await context.acting("prior_auth.packet.read.\(format)", request) { caller in
            try await store.priorAuthPacket(id, by: caller)
        }
        let name = "prior-auth-\(stored.packet.referral.kind)-\(stored.id.lower.prefix(8))"
        switch format {
        case "html":
            return Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: PacketRendering.html(stored))))
        case "pdf":
            let pdf = try await PacketRendering.pdf(PacketRendering.html(stored))
            return Response(
                status: .ok,
                headers: [
                    .contentType: "application/pdf", .contentDisposition: "attachment; filename=\"\(name).pdf\"",
                ],
                body: .init(byteBuffer: ByteBuffer(bytes: pdf)))
        default:
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: try Self.packetJSON(stored))))
        }
    }

    struct ScreenOut: Encodable, Sendable {
        var screenId: String
        var treatment: String
        var findings: [String]
        var task: TaskOut
    }

    /// POST /v1/tasks/{id}/contraindication-screen
    @Sendable func screen(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let body = try await request.decodeJSON(ScreenBody.self, context: context)
        try checkText(body.note, "note", max: 4000)
        var answers: [ContraindicationItem: Bool] = [:]
        for (key, value) in body.answers {
            guard let item = ContraindicationItem(rawValue: key) else {
                var problem = Problem.invalid("'answers' has '\(key)', which no screen asks")
                problem.field = "answers"
                problem.accepted = ContraindicationItem.allCases.map(\.rawValue)
                throw problem
            }
            answers[item] = value
        }
        return try await context.respond("contraindication_screen.complete", request) { caller in
            try await store.completeScreening(taskID: id, answers: answers, note: body.note, by: caller)
        } render: { recorded in
            try Wire.answer(
                ScreenOut(
                    screenId: recorded.id.lower, treatment: recorded.screen.treatment.rawValue,
                    findings: recorded.screen.findings.map(\.rawValue), task: TaskOut(recorded.task)),
                status: .created)
        }
    }

    struct BirthDateOut: Encodable, Sendable {
        var patientId: String
        var birthDate: String?
    }

    /// PUT /v1/patients/{id}/birth-date
    @Sendable func birthDate(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let body = try await request.decodeJSON(BirthDateBody.self, context: context)
        var date: Date?
        if let text = body.birthDate {
            guard let day = Day.parse(text) else {
                var problem = Problem.invalid("'birth_date' must be a date, YYYY-MM-DD")
                problem.field = "birth_date"
                throw problem
            }
            date = day
        }
        try await context.acting("patient.birth_date", request, patient: id) { caller in
            try await store.setBirthDate(patientID: id, date, by: caller)
        }
        return try Wire.json(BirthDateOut(patientId: id.lower, birthDate: date.map(DayText.format)))
    }

    struct StatementOut: Encodable, Sendable {
        var id: String
        var patientId: String
        var key: String
    }

    /// POST /v1/patients/{id}/prior-auth-statements
    @Sendable func document(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let body = try await request.decodeJSON(StatementBody.self, context: context)
        try checkText(body.text, "text", max: 2000, required: true)
        return try await context.respond("prior_auth.document", request, patient: id) { caller in
            try await store.documentForPriorAuth(patientID: id, key: body.key, text: body.text, by: caller)
        } render: { statement in
            try Wire.answer(StatementOut(id: statement.lower, patientId: id.lower, key: body.key), status: .created)
        }
    }

    static func criterion(_ result: CriterionResult) -> PriorAuthCriterionOut {
        PriorAuthCriterionOut(
            statement: result.statement, isMet: result.isMet, evidence: result.evidence,
            trialIds: result.trialIDs.map(\.lower), scoreIds: result.scoreIDs.map(\.lower), toMeet: result.toMeet,
            parts: result.parts.isEmpty ? nil : result.parts.map(Self.criterion))
    }

    /// GET /v1/referrals/{id}/prior-authorisation
    @Sendable func check(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let criteriaSet = try QueryParameters(request).string("criteria_set", maxLength: 200)
        let check = try await context.acting("prior_auth.check", request) { caller in
            try await store.priorAuthorisationCheck(referralID: id, criteriaSet: criteriaSet, by: caller)
        }
        let evaluation = check.evaluation
        return try Wire.json(
            PriorAuthCheckOut(
                referralId: id.lower, patientId: check.patientID.lower, treatment: evaluation.treatment.rawValue,
                criteriaSet: evaluation.criteriaSet, asOf: Wire.timestamp(evaluation.asOf), allMet: evaluation.allMet,
                unmet: evaluation.unmet.count, criteria: evaluation.results.map(Self.criterion)))
    }
}

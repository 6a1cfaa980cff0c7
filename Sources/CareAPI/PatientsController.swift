import CareDomain
import CareStore
import CareWire
import Foundation
import HTTPTypes
import Hummingbird

/// /v1/patients: enrolment, the list and search, a summary, status, the care plan (If-Match), a
/// patient's event history and audit trail.
struct PatientsController: Sendable {
    let store: CareStore

    func addRoutes(to v1: RouterGroup<CareRequestContext>) {
        v1.get("patients", use: listPatients)
        v1.post("patients", use: enrol)
        v1.get("patients/:id", use: summary)
        v1.post("patients/:id/status", use: changeStatus)
        v1.get("patients/:id/care-plan", use: carePlan)
        v1.put("patients/:id/care-plan", use: saveCarePlan)
        v1.get("patients/:id/events", use: events)
        v1.get("patients/:id/audit", use: audit)
    }

    /// GET /v1/patients
    @Sendable func listPatients(_ request: Request, context: CareRequestContext) async throws -> Response {
        let query = QueryParameters(request)
        let team = try query.uuid("team_id")
        let search = try query.string("search", maxLength: 100).map { $0.trimmingCharacters(in: .whitespaces) }.flatMap
        { $0.isEmpty ? nil : $0 }
        let page = try await context.acting("patient.list", request) { caller in
            try await store.patients(
                teamID: team, search: search, limit: try query.limit(), after: try query.afterID(), by: caller)
        }
        return try Wire.json(ListPage(items: page.items.map(PatientOut.init), nextCursor: page.next))
    }

    /// POST /v1/patients
    @Sendable func enrol(_ request: Request, context: CareRequestContext) async throws -> Response {
        let body = try await request.decodeJSON(NewPatient.self, context: context)
        try checkText(body.mrn, "mrn", max: 64, required: true)
        try checkText(body.displayName, "display_name", max: 200, required: true)
        return try await context.respond("patient.enrol", request) { caller in
            try await store.createPatient(
                teamID: body.teamId, mrn: body.mrn, displayName: body.displayName, enrolledOn: body.enrolledOn.date,
                by: caller)
        } render: { id in
            return try Wire.answer(
                Created(id: id.lower), status: .created, headers: [.location: "/v1/patients/\(id.lower)"])
        }
    }

    /// GET /v1/patients/:id
    @Sendable func summary(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let summary = try await context.acting("patient.read", request, patient: id) { caller in
            try await store.patientSummary(id, by: caller)
        }
        return try Wire.json(SummaryOut(summary))
    }

    /// POST /v1/patients/:id/status
    @Sendable func changeStatus(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let body = try await request.decodeJSON(PatientStatusChange.self, context: context)
        guard let status = PatientStatus(rawValue: body.status) else {
            var problem = Problem.invalid("'status' must be one of \(PatientStatus.names)")
            problem.field = "status"
            problem.accepted = PatientStatus.allCases.map(\.rawValue)
            throw problem
        }
        return try await context.respond("patient.status", request, patient: id) { caller in
            try await store.changePatientStatus(id, to: status, by: caller)
        } render: { closed in
            return try Wire.answer(
                Moved(
                    id: id.lower, status: status.rawValue, supersededHandoffIds: closed.handoffs.map(\.lower),
                    cancelledTaskIds: closed.tasks.map(\.lower)))
        }
    }

    /// GET /v1/patients/:id/care-plan
    @Sendable func carePlan(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let plan = try await context.acting("care_plan.read", request, patient: id) { caller in
            try await store.carePlan(patientID: id, by: caller)
        }
        return try Wire.json(CarePlanOut(plan), headers: [.eTag: Self.etag(plan.version)])
    }

    /// PUT /v1/patients/:id/care-plan
    @Sendable func saveCarePlan(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        guard let ifMatch = request.headers[.ifMatch] else {
            throw Problem(
                "precondition-required", title: "Precondition required", status: .preconditionRequired,
                detail: "send If-Match with the ETag of the care plan you edited (GET it first)")
        }
        let body = try await request.decodeJSON(PlanBody.self, context: context)
        guard body.goals.count <= 50, body.problems.count <= 50 else {
            throw Problem.badRequest("a care plan holds at most 50 goals and 50 problems")
        }
        for item in body.goals + body.problems { try checkText(item, "goals and problems", max: 1000) }
        try checkText(body.treatmentLine, "treatment_line", max: 2000)
        guard let expected = Self.version(fromETag: ifMatch) else {
            throw Problem.badRequest("If-Match must be an ETag this server gave out, such as \"v3\"")
        }
        let plan = try await context.acting("care_plan.update", request, patient: id) { caller in
            try await store.saveCarePlan(
                patientID: id, expectedVersion: expected,
                content: CarePlanContent(goals: body.goals, problems: body.problems, treatmentLine: body.treatmentLine),
                by: caller)
        }
        return try Wire.json(CarePlanOut(plan), headers: [.eTag: Self.etag(plan.version)])
    }

    /// GET /v1/patients/:id/events
    @Sendable func events(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let query = QueryParameters(request)
        let before = try query.number()
        let page = try await context.acting("patient.events", request, patient: id) { caller in
            try await store.patientEventsPage(id, before: before, limit: try query.limit(), by: caller)
        }
        return try Wire.json(ListPage(items: page.items.map(PatientEvent.init), nextCursor: page.next))
    }

    /// GET /v1/patients/:id/audit
    @Sendable func audit(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let query = QueryParameters(request)
        let before = try query.number()
        let page = try await context.acting("patient.audit", request, patient: id) { caller in
            try await store.audit(patientID: id, limit: try query.limit(default: 100), before: before, by: caller)
        }
        return try Wire.json(ListPage(items: page.items.map(AuditOut.init), nextCursor: page.next))
    }

    static func etag(_ version: Int) -> String { "\"v\(version)\"" }

    static func version(fromETag header: String) -> Int? {
        var text = header.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("W/") { text.removeFirst(2) }
        guard text.hasPrefix("\"v"), text.hasSuffix("\""), text.count > 3 else { return nil }
        return Int(text.dropFirst(2).dropLast())
    }
}

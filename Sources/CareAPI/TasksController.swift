import CareDomain
import CareStore
import CareWire
import Foundation
import HTTPTypes
import Hummingbird

/// /v1/tasks and /v1/handoffs: the queue, a task with its causes, the status moves, a patient's
/// tasks, acknowledging and reassigning handoffs.
struct TasksController: Sendable {
    let store: CareStore

    func addRoutes(to v1: RouterGroup<CareRequestContext>) {
        v1.get("tasks", use: queue)
        v1.get("inbox", use: inbox)
        v1.get("tasks/:id", use: task)
        v1.get("patients/:id/tasks", use: patientTasks)
        v1.post("patients/:id/tasks", use: createTask)
        v1.get("handoffs", use: handoffs)
        v1.post("handoffs/:id/acknowledge", use: acknowledge)
        v1.post("handoffs/:id/reassign", use: reassign)
        for action in ["claim", "start", "hold", "resume", "complete", "cancel", "fail"] {
            v1.post("tasks/:id/\(action)") { request, context in try await act(action, request, context: context) }
        }
    }

    /// GET /v1/inbox?since=RFC3339: what changed on my patients since then, safety signals first.
    @Sendable func inbox(_ request: Request, context: CareRequestContext) async throws -> Response {
        let query = QueryParameters(request)
        guard let since = try query.timestamp("since") else {
            throw Problem.badRequest("'since' is required: an RFC 3339 time such as 2026-11-30T08:00:00Z")
        }
        let items = try await context.acting("inbox.read", request) { caller in
            try await store.inbox(since: since, limit: try query.limit(default: 200), by: caller)
        }
        return try Wire.json(
            ListPage(
                items: items.map {
                    InboxEntry(
                        eventId: String($0.eventID), kind: $0.kind.rawValue, patientId: $0.patientID.lower,
                        patientName: $0.patientName, actorName: $0.actorName, occurredAt: $0.occurredAt, what: $0.what,
                        safetySignal: $0.safetySignal)
                }, nextCursor: nil))
    }

    /// GET /v1/tasks
    @Sendable func queue(_ request: Request, context: CareRequestContext) async throws -> Response {
        let query = QueryParameters(request)
        let status = try query.enumeration("status", TaskStatus.self)
        let role = try query.enumeration("role", Role.self)
        guard (role?.count ?? 0) <= 1 else { throw Problem.badRequest("'role' takes one role") }
        let dueBefore = try query.timestamp("due_before")
        let offset = Int(try query.number() ?? 0)
        let page = try await context.acting("queue.read", request) { caller in
            try await store.queuePage(
                status: status, role: role?.first, dueBefore: dueBefore, limit: try query.limit(), offset: offset,
                by: caller)
        }
        return try Wire.json(ListPage(items: page.items.map(TaskOut.init), nextCursor: page.next))
    }

    /// GET /v1/tasks/:id
    @Sendable func task(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let task = try await context.acting("task.read", request) { caller in try await store.task(id, by: caller) }
        return try Wire.json(TaskOut(task))
    }

    /// GET /v1/patients/:id/tasks
    @Sendable func patientTasks(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let query = QueryParameters(request)
        let status = try query.enumeration("status", TaskStatus.self)
        let page = try await context.acting("patient.tasks", request, patient: id) { caller in
            try await store.patientTasks(
                patientID: id, status: status, limit: try query.limit(), after: try query.afterID(), by: caller)
        }
        return try Wire.json(ListPage(items: page.items.map(TaskOut.init), nextCursor: page.next))
    }

    /// POST /v1/patients/:id/tasks
    @Sendable func createTask(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let body = try await request.decodeJSON(NewTask.self, context: context)
        try checkText(body.title, "title", max: 300, required: true)
        try checkText(body.description, "description", max: 4000)
        return try await context.respond("task.create", request, patient: id) { caller in
            try await store.createTask(
                patientID: id, title: body.title, description: body.description ?? "", ownerID: body.ownerId,
                poolRole: body.poolRole,
                priority: body.priority ?? .routine, dueAt: body.dueAt, notBefore: body.notBefore, by: caller)
        } render: { taskID in
            return try Wire.answer(
                Created(id: taskID.lower), status: .created, headers: [.location: "/v1/tasks/\(taskID.lower)"])
        }
    }

    /// GET /v1/handoffs
    @Sendable func handoffs(_ request: Request, context: CareRequestContext) async throws -> Response {
        let query = QueryParameters(request)
        let page = try await context.acting("handoffs.read", request) { caller in
            try await store.handoffs(
                includeAcknowledged: try query.bool("include_acknowledged") ?? false,
                limit: try query.limit(), after: try query.afterID(), by: caller)
        }
        return try Wire.json(ListPage(items: page.items.map(HandoffOut.init), nextCursor: page.next))
    }

    /// POST /v1/handoffs/:id/acknowledge
    @Sendable func acknowledge(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        return try await context.respond("handoff.acknowledge", request) { caller in
            try await store.acknowledgeHandoff(id, by: caller)
        } render: { task in
            return Wire.answer(TaskOut(task))
        }
    }

    /// POST /v1/handoffs/:id/reassign
    @Sendable func reassign(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let body = try await request.decodeJSON(Reassignment.self, context: context)
        try checkText(body.reason, "reason", max: 1000, required: true)
        return try await context.respond("handoff.reassign", request) { caller in
            try await store.reassignHandoff(id, to: body.role, member: body.memberId, reason: body.reason, by: caller)
        } render: { task in
            return Wire.answer(TaskOut(task))
        }
    }

    /// POST /v1/tasks/{id}/claim, start, hold, resume, complete, cancel or fail
    @Sendable func act(_ action: String, _ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        var body = TaskAction()
        if request.headers[.contentLength].map({ $0 != "0" }) ?? (request.headers[.transferEncoding] != nil) {
            body = try await request.decodeJSON(TaskAction.self, context: context)
            try checkText(body.note, "note", max: 4000)
            try checkText(body.reason, "reason", max: 1000)
        }
        return try await context.respond("task.\(action)", request) { caller -> TaskSummary in
            switch action {
            case "claim": try await store.claimTask(id, note: body.note, by: caller)
            case "start": try await store.startTask(id, note: body.note, by: caller)
            case "hold": try await store.holdTask(id, reason: body.reason ?? body.note, by: caller)
            case "resume": try await store.resumeTask(id, note: body.note, by: caller)
            case "complete": try await store.completeTask(id, evidence: body.note, by: caller)
            case "fail": try await store.failTask(id, reason: body.reason ?? body.note, by: caller)
            default: try await store.cancelTask(id, reason: body.reason ?? body.note, by: caller)
            }
        } render: { task in
            return Wire.answer(TaskOut(task))
        }
    }
}

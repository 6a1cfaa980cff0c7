import CareDomain
import CareStore
import Foundation
import HTTPTypes
import Hummingbird

/// Every /v1 resource. Handlers parse and validate the request, call the store as the caller
/// (row-level security, permissions and audit happen there), and shape the answer.
struct V1Controller: Sendable {
    let store: CareStore

    func addRoutes(to v1: RouterGroup<CareRequestContext>) {
        addTeamRoutes(v1)
        addPatientRoutes(v1)
        addTaskRoutes(v1)
        addClinicalRoutes(v1)
    }

    // MARK: Teams

    struct NewTeam: Decodable { var name: String }
    struct NewMember: Decodable {
        var displayName: String
        var email: String?
        var roles: [Role]
        var tokenExpiresAt: Date?
    }
    struct CreatedMember: Encodable { var id: String; var roles: [String]; var tokenId: String; var token: String; var tokenExpiresAt: Date? }

    func addTeamRoutes(_ v1: RouterGroup<CareRequestContext>) {
        v1.get("teams") { _, context in
            let principal = try context.requirePrincipal()
            let teams = try await store.memberships(of: principal.memberID)
            return try Wire.json(ListPage(items: teams.map { TeamOut(id: $0.teamID.lower, name: $0.name, roles: $0.roles.map(\.rawValue).sorted()) }, nextCursor: nil))
        }
        v1.post("teams") { request, context in
            _ = try context.requirePrincipal()
            let body = try await request.decodeJSON(NewTeam.self, context: context)
            try checkText(body.name, "name", max: 200, required: true)
            return try await context.respond("team.create", request) { caller in try await store.createTeam(name: body.name, by: caller) } render: { id in
                return try Wire.answer(TeamOut(id: id.lower, name: body.name.trimmingCharacters(in: .whitespacesAndNewlines), roles: ["admin"]),
                                       status: .created, headers: [.location: "/v1/teams/\(id.lower)"])
            }
        }
        v1.get("teams/:id") { _, context in
            let principal = try context.requirePrincipal()
            let id = try context.id()
            guard let team = try await store.memberships(of: principal.memberID).first(where: { $0.teamID == id }) else {
                throw Problem.notFound("team \(id.lower) not found")
            }
            return try Wire.json(TeamOut(id: team.teamID.lower, name: team.name, roles: team.roles.map(\.rawValue).sorted()))
        }
        v1.get("teams/:id/members") { request, context in
            let id = try context.id()
            let members = try await context.acting("team.members", request) { caller in try await store.teamMembers(teamID: id, by: caller) }
            return try Wire.json(ListPage(items: members.map(MemberOut.init), nextCursor: nil))
        }
        v1.post("teams/:id/members") { request, context in
            let principal = try context.requirePrincipal()
            let teamID = try context.id()
            let body = try await request.decodeJSON(NewMember.self, context: context)
            try checkText(body.displayName, "display_name", max: 200, required: true)
            try checkText(body.email, "email", max: 320)
            guard !body.roles.contains(.integration) else { throw Problem.invalid("integration is for service accounts; create them with care-server admin create-service-account") }
            // Tokens made through the API expire: in 90 days unless asked otherwise, in a year at most.
            // (The store refuses one more than a year away, once the caller may add members at all.)
            let expiresAt = body.tokenExpiresAt ?? Date().addingTimeInterval(APILimits.defaultTokenDays * 86_400)
            // The member and their token commit together (or neither does).
            return try await context.respond("member.create", request) { caller in
                try await store.createMemberWithToken(displayName: body.displayName, email: body.email, teamID: teamID, roles: body.roles,
                                                      tokenName: "issued by \(principal.displayName)", expiresAt: expiresAt, by: caller)
            } render: { created in
                let (member, token) = created
                return try Wire.answer(CreatedMember(id: member.lower, roles: body.roles.map(\.rawValue).sorted(), tokenId: token.id.lower, token: token.token,
                                                     tokenExpiresAt: token.expiresAt),
                                       status: .created, headers: [.location: "/v1/teams/\(teamID.lower)/members", .shownOnce: "token"])
            }
        }
    }

    // MARK: Patients

    struct NewPatient: Decodable { var teamId: UUID; var mrn: String; var displayName: String; var enrolledOn: Day }
    struct StatusChange: Decodable { var status: String }
    struct PlanBody: Decodable { var goals: [String]; var problems: [String]; var treatmentLine: String }

    func addPatientRoutes(_ v1: RouterGroup<CareRequestContext>) {
        v1.get("patients") { request, context in
            let query = QueryParameters(request)
            let team = try query.uuid("team_id")
            let search = try query.string("search", maxLength: 100).map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
            let page = try await context.acting("patient.list", request) { caller in
                try await store.patients(teamID: team, search: search, limit: try query.limit(), after: try query.afterID(), by: caller)
            }
            return try Wire.json(ListPage(items: page.items.map(PatientOut.init), nextCursor: page.next))
        }
        v1.post("patients") { request, context in
            let body = try await request.decodeJSON(NewPatient.self, context: context)
            try checkText(body.mrn, "mrn", max: 64, required: true)
            try checkText(body.displayName, "display_name", max: 200, required: true)
            return try await context.respond("patient.enrol", request) { caller in
                try await store.createPatient(teamID: body.teamId, mrn: body.mrn, displayName: body.displayName, enrolledOn: body.enrolledOn.date, by: caller)
            } render: { id in
                return try Wire.answer(Created(id: id.lower), status: .created, headers: [.location: "/v1/patients/\(id.lower)"])
            }
        }
        v1.get("patients/:id") { request, context in
            let id = try context.id()
            _ = try context.requirePrincipal()
            let summary = try await context.acting("patient.read", request, patient: id) { caller in try await store.patientSummary(id, by: caller) }
            return try Wire.json(SummaryOut(summary))
        }
        v1.post("patients/:id/status") { request, context in
            let id = try context.id()
            let body = try await request.decodeJSON(StatusChange.self, context: context)
            guard let status = PatientStatus(rawValue: body.status) else {
                var problem = Problem.invalid("'status' must be one of \(PatientStatus.names)")
                problem.field = "status"
                problem.accepted = PatientStatus.allCases.map(\.rawValue)
                throw problem
            }
            _ = try context.requirePrincipal()
            return try await context.respond("patient.status", request, patient: id) { caller in
                try await store.changePatientStatus(id, to: status, by: caller)
            } render: { closed in
                return try Wire.answer(Moved(id: id.lower, status: status.rawValue, supersededHandoffIds: closed.handoffs.map(\.lower),
                                       cancelledTaskIds: closed.tasks.map(\.lower)))
            }
        }
        v1.get("patients/:id/care-plan") { request, context in
            let id = try context.id()
            let plan = try await context.acting("care_plan.read", request, patient: id) { caller in try await store.carePlan(patientID: id, by: caller) }
            return try Wire.json(CarePlanOut(plan), headers: [.eTag: Self.etag(plan.version)])
        }
        v1.put("patients/:id/care-plan") { request, context in
            let id = try context.id()
            guard let ifMatch = request.headers[.ifMatch] else {
                throw Problem("precondition-required", title: "Precondition required", status: .preconditionRequired,
                              detail: "send If-Match with the ETag of the care plan you edited (GET it first)")
            }
            let body = try await request.decodeJSON(PlanBody.self, context: context)
            guard body.goals.count <= 50, body.problems.count <= 50 else { throw Problem.badRequest("a care plan holds at most 50 goals and 50 problems") }
            for item in body.goals + body.problems { try checkText(item, "goals and problems", max: 1000) }
            try checkText(body.treatmentLine, "treatment_line", max: 2000)
            guard let expected = Self.version(fromETag: ifMatch) else {
                throw Problem.badRequest("If-Match must be an ETag this server gave out, such as \"v3\"")
            }
            _ = try context.requirePrincipal()
            let plan = try await context.acting("care_plan.update", request, patient: id) { caller in
                try await store.saveCarePlan(patientID: id, expectedVersion: expected,
                                             content: CarePlanContent(goals: body.goals, problems: body.problems, treatmentLine: body.treatmentLine),
                                             by: caller)
            }
            return try Wire.json(CarePlanOut(plan), headers: [.eTag: Self.etag(plan.version)])
        }
        v1.get("patients/:id/events") { request, context in
            let id = try context.id()
            let query = QueryParameters(request)
            let before = try query.number()
            let page = try await context.acting("patient.events", request, patient: id) { caller in
                try await store.patientEventsPage(id, before: before, limit: try query.limit(), by: caller)
            }
            return try Wire.json(ListPage(items: page.items.map(EventOut.init), nextCursor: page.next))
        }
        v1.get("patients/:id/audit") { request, context in
            let id = try context.id()
            let query = QueryParameters(request)
            let before = try query.number()
            let page = try await context.acting("patient.audit", request, patient: id) { caller in
                try await store.audit(patientID: id, limit: try query.limit(default: 100), before: before, by: caller)
            }
            return try Wire.json(ListPage(items: page.items.map(AuditOut.init), nextCursor: page.next))
        }
    }

    static func etag(_ version: Int) -> String { "\"v\(version)\"" }

    static func version(fromETag header: String) -> Int? {
        var text = header.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("W/") { text.removeFirst(2) }
        guard text.hasPrefix("\"v"), text.hasSuffix("\""), text.count > 3 else { return nil }
        return Int(text.dropFirst(2).dropLast())
    }

    // MARK: Tasks and handoffs

    struct NewTask: Decodable {
        var title: String
        var description: String?
        var ownerId: UUID?
        var poolRole: Role?
        var priority: TaskPriority?
        var dueAt: Date?
        var notBefore: Date?
    }
    struct TaskAction: Decodable { var note: String?; var reason: String? }
    struct Reassignment: Decodable { var role: Role; var memberId: UUID?; var reason: String }
    struct CorrectionBody: Decodable { var reason: String }

    func addTaskRoutes(_ v1: RouterGroup<CareRequestContext>) {
        v1.get("tasks") { request, context in
            _ = try context.requirePrincipal()
            let query = QueryParameters(request)
            let status = try query.enumeration("status", TaskStatus.self)
            let role = try query.enumeration("role", Role.self)
            guard (role?.count ?? 0) <= 1 else { throw Problem.badRequest("'role' takes one role") }
            let dueBefore = try query.timestamp("due_before")
            let offset = Int(try query.number() ?? 0)
            let page = try await context.acting("queue.read", request) { caller in
                try await store.queuePage(status: status, role: role?.first, dueBefore: dueBefore, limit: try query.limit(), offset: offset, by: caller)
            }
            return try Wire.json(ListPage(items: page.items.map(TaskOut.init), nextCursor: page.next))
        }
        v1.get("tasks/:id") { request, context in
            let id = try context.id()
            let task = try await context.acting("task.read", request) { caller in try await store.task(id, by: caller) }
            return try Wire.json(TaskOut(task))
        }
        for action in ["claim", "start", "hold", "resume", "complete", "cancel", "fail"] {
            v1.post("tasks/:id/\(action)") { request, context in
                let id = try context.id()
                _ = try context.requirePrincipal()
                var body = TaskAction()
                if request.headers[.contentLength].map({ $0 != "0" }) ?? (request.headers[.transferEncoding] != nil) {
                    body = try await request.decodeJSON(TaskAction.self, context: context)
                    try checkText(body.note, "note", max: 4000)
                    try checkText(body.reason, "reason", max: 1000)
                }
                return try await context.respond("task.\(action)", request) { caller -> TaskSummary in
                    switch action {
                    case "claim": try await store.claimTask(id, by: caller)
                    case "start": try await store.startTask(id, by: caller)
                    case "hold": try await store.holdTask(id, reason: body.reason ?? body.note, by: caller)
                    case "resume": try await store.resumeTask(id, by: caller)
                    case "complete": try await store.completeTask(id, evidence: body.note, by: caller)
                    case "fail": try await store.failTask(id, reason: body.reason ?? body.note, by: caller)
                    default: try await store.cancelTask(id, reason: body.reason ?? body.note, by: caller)
                    }
                } render: { task in
                    return Wire.answer(TaskOut(task))
                }
            }
        }
        v1.get("patients/:id/tasks") { request, context in
            let id = try context.id()
            let query = QueryParameters(request)
            let status = try query.enumeration("status", TaskStatus.self)
            let page = try await context.acting("patient.tasks", request, patient: id) { caller in
                try await store.patientTasks(patientID: id, status: status, limit: try query.limit(), after: try query.afterID(), by: caller)
            }
            return try Wire.json(ListPage(items: page.items.map(TaskOut.init), nextCursor: page.next))
        }
        v1.post("patients/:id/tasks") { request, context in
            let id = try context.id()
            let body = try await request.decodeJSON(NewTask.self, context: context)
            try checkText(body.title, "title", max: 300, required: true)
            try checkText(body.description, "description", max: 4000)
            _ = try context.requirePrincipal()
            return try await context.respond("task.create", request, patient: id) { caller in
                try await store.createTask(patientID: id, title: body.title, description: body.description ?? "", ownerID: body.ownerId, poolRole: body.poolRole,
                                           priority: body.priority ?? .routine, dueAt: body.dueAt, notBefore: body.notBefore, by: caller)
            } render: { taskID in
                return try Wire.answer(Created(id: taskID.lower), status: .created, headers: [.location: "/v1/tasks/\(taskID.lower)"])
            }
        }
        v1.get("handoffs") { request, context in
            _ = try context.requirePrincipal()
            let query = QueryParameters(request)
            let page = try await context.acting("handoffs.read", request) { caller in
                try await store.handoffs(includeAcknowledged: try query.bool("include_acknowledged") ?? false,
                                         limit: try query.limit(), after: try query.afterID(), by: caller)
            }
            return try Wire.json(ListPage(items: page.items.map(HandoffOut.init), nextCursor: page.next))
        }
        v1.post("handoffs/:id/acknowledge") { request, context in
            let id = try context.id()
            _ = try context.requirePrincipal()
            return try await context.respond("handoff.acknowledge", request) { caller in try await store.acknowledgeHandoff(id, by: caller) } render: { task in
                return Wire.answer(TaskOut(task))
            }
        }
        v1.post("handoffs/:id/reassign") { request, context in
            let id = try context.id()
            let body = try await request.decodeJSON(Reassignment.self, context: context)
            try checkText(body.reason, "reason", max: 1000, required: true)
            _ = try context.requirePrincipal()
            return try await context.respond("handoff.reassign", request) { caller in
                try await store.reassignHandoff(id, to: body.role, member: body.memberId, reason: body.reason, by: caller)
            } render: { task in
                return Wire.answer(TaskOut(task))
            }
        }
    }

    // MARK: Notes, measurements, trials, referrals

    struct NewNote: Decodable { var kind: NoteKind?; var body: String }
    struct Amendment: Decodable { var body: String }
    struct NewMeasurement: Decodable { var instrument: Instrument; var items: [Int]?; var total: Int?; var takenAt: Date? }
    struct NewTrial: Decodable {
        var kind: TrialKind
        var drug: String?
        var dailyDoseMg: Double?
        var startedOn: Day
        var therapy: String?
        /// A dose above the dose table's maximum is recorded only with both of these.
        var confirmHighDose: Bool?
        var highDoseReason: String?
    }
    struct NewOutcome: Decodable { var outcome: TrialOutcome?; var stoppedOn: Day; var adherence: Double?; var sessions: Int?; var stopReason: String? }
    struct OutcomeOut: Encodable, JSONWritable {
        var trialId: String
        var outcome: String
        var isFailed: Bool
        var trdReached: Bool
        var adequacy: AdequacyOut
        var handoffIds: [String]

        func write(to json: inout JSONWriter) {
            json.object { o in
                o.member("adequacy") { adequacy.write(to: &$0) }
                o.member("handoff_ids") { $0.array(handoffIds) { $0.string($1) } }
                o.member("is_failed") { $0.bool(isFailed) }
                o.member("outcome") { $0.string(outcome) }
                o.member("trd_reached") { $0.bool(trdReached) }
                o.member("trial_id") { $0.string(trialId) }
            }
        }
    }
    struct NewReferral: Decodable { var kind: ReferralKind; var targetClinic: String; var note: String?; var reason: String? }
    struct ReferralStatusChange: Decodable { var status: ReferralStatus; var reason: String? }
    struct Moved: Encodable { var id: String; var status: String; var supersededHandoffIds: [String]; var cancelledTaskIds: [String]? }

    func addClinicalRoutes(_ v1: RouterGroup<CareRequestContext>) {
        v1.get("patients/:id/notes") { request, context in
            let id = try context.id()
            _ = try context.requirePrincipal()
            let query = QueryParameters(request)
            let include = try query.bool("include_entered_in_error") ?? false
            let page = try await context.acting("note.list", request, patient: id) { caller in
                try await store.notes(patientID: id, includeEnteredInError: include, limit: try query.limit(),
                                      after: try query.afterID(), by: caller)
            }
            return try Wire.json(ListPage(items: page.items.map(NoteOut.init), nextCursor: page.next))
        }
        v1.post("patients/:id/notes") { request, context in
            let id = try context.id()
            let body = try await request.decodeJSON(NewNote.self, context: context)
            try checkText(body.body, "body", max: APILimits.maximumNoteCharacters, required: true)
            _ = try context.requirePrincipal()
            if body.kind == .caseReview { throw Problem.invalid("case-review notes come from the weekly review's recommendations") }
            return try await context.respond("note.add", request, patient: id) { caller in
                try await store.addNote(patientID: id, kind: body.kind ?? .progress, body: body.body, by: caller)
            } render: { noteID in
                return try Wire.answer(Created(id: noteID.lower), status: .created, headers: [.location: "/v1/patients/\(id.lower)/notes"])
            }
        }
        v1.post("notes/:id/amendments") { request, context in
            let id = try context.id()
            let body = try await request.decodeJSON(Amendment.self, context: context)
            try checkText(body.body, "body", max: APILimits.maximumNoteCharacters, required: true)
            _ = try context.requirePrincipal()
            return try await context.respond("note.amend", request) { caller in try await store.amendNote(id, body: body.body, by: caller) } render: { amended in
                return try Wire.answer(Created(id: amended.id.lower), status: .created, headers: [.location: "/v1/patients/\(amended.patientID.lower)/notes"])
            }
        }
        v1.get("patients/:id/measurements") { request, context in
            let id = try context.id()
            let query = QueryParameters(request)
            let include = try query.bool("include_entered_in_error") ?? false
            let page = try await context.acting("measurement.list", request, patient: id) { caller in
                try await store.measurements(patientID: id, includeEnteredInError: include, limit: try query.limit(), after: try query.afterID(), by: caller)
            }
            return try Wire.json(ListPage(items: page.items.map(MeasurementOut.init), nextCursor: page.next))
        }
        v1.post("patients/:id/measurements") { request, context in
            let id = try context.id()
            let body = try await request.decodeJSON(NewMeasurement.self, context: context)
            _ = try context.requirePrincipal()
            let score: Score
            do {
                switch (body.items, body.total) {
                case (let items?, nil): score = try Score(body.instrument, items: items)
                case (nil, let total?): score = try Score(body.instrument, total: total)
                case (.some, .some): throw Problem.invalid("send either 'items' (the answers) or 'total', not both")
                case (nil, nil): throw Problem.invalid("send 'items' (the answers) or 'total'")
                }
            } catch let error as MeasurementError {
                throw Problem.invalid(error.description)
            }
            let takenAt = body.takenAt ?? Date()
            return try await context.respond("measurement.record", request, patient: id) { caller in
                try await store.recordMeasurement(patientID: id, score: score, takenAt: takenAt, by: caller)
            } render: { result in
                return try Wire.answer(Created(id: result.measurementID.lower, handoffIds: result.event.handoffIDs.map(\.lower), severity: score.band), status: .created,
                                       headers: [.location: "/v1/patients/\(id.lower)/measurements"])
            }
        }
        v1.get("patients/:id/trials") { request, context in
            let id = try context.id()
            let query = QueryParameters(request)
            let include = try query.bool("include_entered_in_error") ?? false
            let page = try await context.acting("trial.list", request, patient: id) { caller in
                try await store.trials(patientID: id, includeEnteredInError: include, limit: try query.limit(), after: try query.afterID(), by: caller)
            }
            return try Wire.json(ListPage(items: page.items.map(TrialOut.init), nextCursor: page.next))
        }
        v1.post("patients/:id/trials") { request, context in
            let id = try context.id()
            let body = try await request.decodeJSON(NewTrial.self, context: context)
            try checkText(body.drug, "drug", max: 100)
            try checkText(body.therapy, "therapy", max: 200)
            try checkText(body.highDoseReason, "high_dose_reason", max: 1000)
            if let dose = body.dailyDoseMg, !(dose > 0 && dose <= 100_000) { throw Problem.badRequest("'daily_dose_mg' must be above 0 and at most 100000") }
            let highDoseReason = body.confirmHighDose == true ? body.highDoseReason : nil
            if body.confirmHighDose == true, (highDoseReason ?? "").unicodeScalars.allSatisfy(isBlank) {
                var problem = Problem.invalid("'confirm_high_dose' needs 'high_dose_reason': why this dose")
                problem.field = "high_dose_reason"
                throw problem
            }
            _ = try context.requirePrincipal()
            return try await context.respond("trial.start", request, patient: id) { caller in
                try await store.startTrial(patientID: id, kind: body.kind, drug: body.drug, dailyDoseMg: body.dailyDoseMg, startedOn: body.startedOn.date,
                                           therapy: body.therapy, highDoseReason: highDoseReason, by: caller)
            } render: { trialID in
                return try Wire.answer(Created(id: trialID.lower), status: .created, headers: [.location: "/v1/patients/\(id.lower)/trials"])
            }
        }
        v1.post("trials/:id/outcome") { request, context in
            let id = try context.id()
            let body = try await request.decodeJSON(NewOutcome.self, context: context)
            try checkText(body.stopReason, "stop_reason", max: 1000)
            if let adherence = body.adherence, !(0...1).contains(adherence) { throw Problem.badRequest("'adherence' must be from 0 to 1") }
            if let sessions = body.sessions, !(0...1000).contains(sessions) { throw Problem.badRequest("'sessions' must be from 0 to 1000") }
            _ = try context.requirePrincipal()
            return try await context.respond("trial.outcome", request) { caller in
                try await store.recordTrialOutcome(trialID: id, outcome: body.outcome, stoppedOn: body.stoppedOn.date, adherence: body.adherence,
                                                   sessions: body.sessions, stopReason: body.stopReason, by: caller)
            } render: { result in
                return Wire.answer(OutcomeOut(trialId: id.lower, outcome: result.outcome.rawValue, isFailed: result.isFailure,
                                            trdReached: result.trdReached, adequacy: AdequacyOut(result.adequacy),
                                            handoffIds: result.events.flatMap(\.handoffIDs).map(\.lower)), status: .created)
            }
        }
        v1.get("patients/:id/referrals") { request, context in
            let id = try context.id()
            let query = QueryParameters(request)
            let include = try query.bool("include_entered_in_error") ?? false
            let page = try await context.acting("referral.list", request, patient: id) { caller in
                try await store.referrals(patientID: id, includeEnteredInError: include, limit: try query.limit(), after: try query.afterID(), by: caller)
            }
            return try Wire.json(ListPage(items: page.items.map(ReferralOut.init), nextCursor: page.next))
        }
        v1.post("patients/:id/referrals") { request, context in
            let id = try context.id()
            let body = try await request.decodeJSON(NewReferral.self, context: context)
            try checkText(body.targetClinic, "target_clinic", max: 300, required: true)
            try checkText(body.note, "note", max: 4000)
            try checkText(body.reason, "reason", max: 1000)
            _ = try context.requirePrincipal()
            return try await context.respond("referral.make", request, patient: id) { caller in
                try await store.makeReferral(patientID: id, kind: body.kind, targetClinic: body.targetClinic, note: body.note ?? "", reason: body.reason,
                                             by: caller)
            } render: { result in
                return try Wire.answer(Created(id: result.referralID.lower, handoffIds: result.event.handoffIDs.map(\.lower)), status: .created,
                                       headers: [.location: "/v1/patients/\(id.lower)/referrals"])
            }
        }
        v1.post("referrals/:id/status") { request, context in
            let id = try context.id()
            let body = try await request.decodeJSON(ReferralStatusChange.self, context: context)
            try checkText(body.reason, "reason", max: 1000)
            _ = try context.requirePrincipal()
            return try await context.respond("referral.status", request) { caller in
                try await store.moveReferral(id, to: body.status, reason: body.reason, by: caller)
            } render: { superseded in
                return try Wire.answer(Moved(id: id.lower, status: body.status.rawValue, supersededHandoffIds: superseded.map(\.lower)))
            }
        }
        for (path, record) in [("measurements/:id/entered-in-error", CorrectableRecord.measurement), ("trials/:id/entered-in-error", .trial),
                               ("trials/:id/outcome/entered-in-error", .trialOutcome), ("referrals/:id/entered-in-error", .referral),
                               ("notes/:id/entered-in-error", .note)] {
            v1.post(RouterPath(stringLiteral: path)) { request, context in
                let id = try context.id()
                let body = try await request.decodeJSON(CorrectionBody.self, context: context)
                try checkText(body.reason, "reason", max: 1000, required: true)
                _ = try context.requirePrincipal()
                return try await context.respond("\(record.rawValue.replacingOccurrences(of: "-", with: "_")).entered_in_error", request) { caller in
                    try await store.markEnteredInError(record, id: id, reason: body.reason, by: caller)
                } render: { correction in
                    return try Wire.answer(CorrectionOut(correction))
                }
            }
        }
    }
}

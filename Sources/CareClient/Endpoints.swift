import Foundation
import NIOCore

// One method per API operation the CLI uses; request bodies are the document's.

extension CareClient {
    public func me() async throws -> Me { try await get("v1/me") }

    /// My queue, most urgent and soonest due first; follows cursors up to `limit` tasks.
    public func queue(limit: Int = 200) async throws -> [TaskItem] {
        try await all("v1/tasks", limit: limit)
    }

    public func handoffs(limit: Int = 200) async throws -> [Handoff] {
        try await all("v1/handoffs", limit: limit)
    }

    public func patients(search: String?, limit: Int = 200) async throws -> [Patient] {
        try await all("v1/patients", query: ["search": search], limit: limit)
    }

    public func patient(_ id: String) async throws -> Summary { try await get("v1/patients/\(id)") }

    public func measurements(_ patient: String) async throws -> [CareWire.Measurement] {
        try await all("v1/patients/\(patient)/measurements", limit: 200)
    }

    func all<T: Codable & Sendable>(_ path: String, query: [String: String?] = [:], limit: Int) async throws -> [T] {
        var items: [T] = []
        var cursor: String?
        repeat {
            var parameters = query
            parameters["limit"] = String(min(200, limit - items.count))
            parameters["cursor"] = cursor
            let page: Page<T> = try await get(path, query: parameters)
            items += page.items
            cursor = page.nextCursor
        } while cursor != nil && items.count < limit
        return items
    }

    public struct TaskAction: Encodable, Sendable { public var note: String?; public var reason: String? }

    /// claim, start, hold, resume, complete (note: the evidence), cancel or fail (reason).
    public func task(_ id: String, _ action: String, note: String? = nil, reason: String? = nil) async throws
        -> TaskItem
    {
        try await post("v1/tasks/\(id)/\(action)", TaskAction(note: note, reason: reason))
    }

    public func task(_ id: String) async throws -> TaskItem { try await get("v1/tasks/\(id)") }

    public struct NewTask: Encodable, Sendable {
        public var title: String
        public var description: String?
        public var ownerId: String?
        public var poolRole: String?
        public var priority: String?
        public var dueAt: String?
        public init(
            title: String, description: String?, ownerId: String?, poolRole: String?, priority: String?, dueAt: String?
        ) {
            self.title = title; self.description = description; self.ownerId = ownerId; self.poolRole = poolRole;
            self.priority = priority; self.dueAt = dueAt
        }
    }

    public func createTask(patient: String, _ task: NewTask) async throws -> Created {
        try await post("v1/patients/\(patient)/tasks", task)
    }

    struct Empty: Encodable {}

    /// Acknowledges a handoff; the answer is the task it is.
    public func acknowledge(handoff id: String) async throws -> TaskItem {
        try await post("v1/handoffs/\(id)/acknowledge", Empty())
    }

    struct Reassignment: Encodable { var role: String; var memberId: String?; var reason: String }

    public func reassign(handoff id: String, role: String, member: String?, reason: String) async throws -> TaskItem {
        try await post("v1/handoffs/\(id)/reassign", Reassignment(role: role, memberId: member, reason: reason))
    }

    struct CorrectionBody: Encodable { var reason: String }

    /// Marks a record entered in error. `path` is the record's: measurements/ID, trials/ID,
    /// trials/ID/outcome, referrals/ID or notes/ID.
    public func markEnteredInError(_ path: String, reason: String) async throws -> Correction {
        try await post("v1/\(path)/entered-in-error", CorrectionBody(reason: reason))
    }

    struct NewNote: Encodable { var kind: String; var body: String }
    struct Amendment: Encodable { var body: String }

    public func addNote(patient: String, kind: String, body: String) async throws -> Created {
        try await post("v1/patients/\(patient)/notes", NewNote(kind: kind, body: body))
    }

    public func amend(note id: String, body: String) async throws -> Created {
        try await post("v1/notes/\(id)/amendments", Amendment(body: body))
    }

    public func notes(patient: String) async throws -> [Note] {
        try await all("v1/patients/\(patient)/notes", limit: 200)
    }

    struct NewScore: Encodable { var instrument: String; var items: [Int]?; var total: Int? }

    public func addScore(patient: String, instrument: String, items: [Int]?, total: Int?) async throws -> Created {
        try await post(
            "v1/patients/\(patient)/measurements", NewScore(instrument: instrument, items: items, total: total))
    }

    struct NewTrial: Encodable {
        var kind: String; var drug: String?; var dailyDoseMg: Double?; var startedOn: String; var therapy: String?
        var confirmHighDose: Bool?; var highDoseReason: String?
    }

    /// Starts a trial; a dose above the dose table's maximum needs `highDoseReason`.
    public func startTrial(
        patient: String, kind: String, drug: String?, dailyDoseMg: Double?, startedOn: String, therapy: String?,
        highDoseReason: String? = nil
    ) async throws -> Created {
        try await post(
            "v1/patients/\(patient)/trials",
            NewTrial(
                kind: kind, drug: drug, dailyDoseMg: dailyDoseMg, startedOn: startedOn, therapy: therapy,
                confirmHighDose: highDoseReason == nil ? nil : true, highDoseReason: highDoseReason))
    }

    struct NewOutcome: Encodable {
        var outcome: String?; var stoppedOn: String; var adherence: Double?; var sessions: Int?; var stopReason: String?
    }

    public func recordOutcome(
        trial: String, outcome: String?, stoppedOn: String, adherence: Double?, sessions: Int? = nil,
        stopReason: String? = nil
    ) async throws -> TrialOutcomeResult {
        try await post(
            "v1/trials/\(trial)/outcome",
            NewOutcome(
                outcome: outcome, stoppedOn: stoppedOn, adherence: adherence, sessions: sessions, stopReason: stopReason
            ))
    }

    struct NewReferral: Encodable { var kind: String; var targetClinic: String; var note: String?; var reason: String? }

    /// Makes a referral; a second open one of the same kind needs `reason`.
    public func refer(patient: String, kind: String, clinic: String, note: String?, reason: String? = nil) async throws
        -> Created
    {
        try await post(
            "v1/patients/\(patient)/referrals",
            NewReferral(kind: kind, targetClinic: clinic, note: note, reason: reason))
    }

    struct StatusChange: Encodable { var status: String; var reason: String? }

    public func moveReferral(_ id: String, to status: String, reason: String? = nil) async throws -> Moved {
        try await post("v1/referrals/\(id)/status", StatusChange(status: status, reason: reason))
    }

    public func movePatient(_ id: String, to status: String) async throws -> Moved {
        try await post("v1/patients/\(id)/status", StatusChange(status: status, reason: nil))
    }

    /// The care plan and its ETag (send it back as If-Match).
    public func carePlan(patient: String) async throws -> (plan: CarePlan, etag: String) {
        let answer = try await send(.GET, "v1/patients/\(patient)/care-plan")
        return (try decode(answer.body), answer.headers["etag"] ?? "")
    }

    public struct PlanBody: Codable, Sendable {
        public var goals: [String]
        public var problems: [String]
        public var treatmentLine: String
        public init(goals: [String], problems: [String], treatmentLine: String) {
            self.goals = goals; self.problems = problems; self.treatmentLine = treatmentLine
        }
    }

    public func saveCarePlan(patient: String, _ body: PlanBody, ifMatch etag: String) async throws -> (
        plan: CarePlan, etag: String
    ) {
        let answer = try await send(
            .PUT, "v1/patients/\(patient)/care-plan", body: try Self.encoder.encode(body), headers: ["If-Match": etag])
        return (try decode(answer.body), answer.headers["etag"] ?? "")
    }

    /// A page of the feed; `wait` long-polls (seconds).
    public func events(after cursor: String?, limit: Int = 100, wait: Int = 0) async throws -> FeedPage {
        let answer = try await send(
            .GET, "v1/events", query: ["after": cursor, "limit": String(limit), "wait": wait > 0 ? String(wait) : nil],
            timeout: .seconds(Int64(wait) + 30))
        do {
            return try Self.plainDecoder.decode(FeedPage.self, from: answer.body)
        } catch {
            throw CareClientError.unexpected("the server's answer was not understood: \(error)")
        }
    }

    static let plainDecoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = CareClient.decoder.dateDecodingStrategy
        return decoder
    }()
}

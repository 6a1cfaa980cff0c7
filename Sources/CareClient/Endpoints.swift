import CareDomain
import CareWire
import CoreFormats
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

    /// The caller's records of `kind` whose id starts with `prefix` (GET /v1/resolve).
    public func resolve(kind: String, prefix: String) async throws -> [ResolvedRecord] {
        let page: Page<ResolvedRecord> = try await get("v1/resolve", query: ["kind": kind, "prefix": prefix])
        return page.items
    }

    /// A patient's history, newest first, up to `limit` events.
    public func history(patient: String, limit: Int = 100) async throws -> [PatientEvent] {
        var events: [PatientEvent] = []
        var before: String?
        repeat {
            let answer = try await send(
                .GET, "v1/patients/\(patient)/events",
                query: ["limit": String(min(200, limit - events.count)), "cursor": before])
            // Payload keys stay as the API writes them: no key conversion.
            struct EventsPage: Decodable {
                var items: [PatientEvent]
                var nextCursor: String?
                enum CodingKeys: String, CodingKey { case items, nextCursor = "next_cursor" }
            }
            let page: EventsPage
            do {
                page = try Self.plainDecoder.decode(EventsPage.self, from: answer.body)
            } catch {
                throw CareClientError.unexpected("the server's answer was not understood: \(error)")
            }
            events += page.items
            before = page.nextCursor
        } while before != nil && events.count < limit
        return events
    }

    /// What changed on my patients since `since` (GET /v1/inbox), safety signals first.
    public func inbox(since: Date) async throws -> [InboxEntry] {
        let page: Page<InboxEntry> = try await get(
            "v1/inbox", query: ["since": Timestamp.iso8601(since, fractionDigits: 3, rounding: .down), "limit": "200"])
        return page.items
    }

    /// A team's members (names for ids).
    public func members(team: String) async throws -> [Member] {
        try await all("v1/teams/\(team)/members", limit: 200)
    }

    /// Adds a member to the team (its admins); the answer carries their token, shown once.
    public func addMember(team: String, _ member: NewMember) async throws -> CreatedMember {
        try await post("v1/teams/\(team)/members", member)
    }

    /// Replaces a member's roles on the team (its admins).
    public func setRoles(team: String, member: String, _ roles: MemberRoles) async throws -> Member {
        try decode(
            try await send(.PUT, "v1/teams/\(team)/members/\(member)", body: try Self.encoder.encode(roles)).body)
    }

    /// Takes a member off the team (its admins): their open tasks there go back to the pools.
    public func removeMember(team: String, member: String) async throws -> RemovedMember {
        try decode(try await send(.DELETE, "v1/teams/\(team)/members/\(member)").body)
    }

    public func measurements(_ patient: String) async throws -> [CareWire.Measurement] {
        try await all("v1/patients/\(patient)/measurements", limit: 200)
    }

    public func all<T: Codable & Sendable>(_ path: String, query: [String: String?] = [:], limit: Int) async throws
        -> [T]
    {
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

    /// claim, start, hold, resume, complete (note: the evidence), cancel or fail (reason).
    public func task(_ id: String, _ action: String, note: String? = nil, reason: String? = nil) async throws
        -> TaskItem
    {
        try await post("v1/tasks/\(id)/\(action)", TaskAction(note: note, reason: reason))
    }

    public func task(_ id: String) async throws -> TaskItem { try await get("v1/tasks/\(id)") }

    public func createTask(patient: String, _ task: NewTask) async throws -> Created {
        try await post("v1/patients/\(patient)/tasks", task)
    }

    struct Empty: Encodable {}

    /// Acknowledges a handoff; the answer is the task it is.
    public func acknowledge(handoff id: String) async throws -> TaskItem {
        try await post("v1/handoffs/\(id)/acknowledge", Empty())
    }

    public func reassign(handoff id: String, _ reassignment: Reassignment) async throws -> TaskItem {
        try await post("v1/handoffs/\(id)/reassign", reassignment)
    }

    /// Marks a record entered in error. `path` is the record's: measurements/ID, trials/ID,
    /// trials/ID/outcome, referrals/ID or notes/ID.
    public func markEnteredInError(_ path: String, reason: String) async throws -> Correction {
        try await post("v1/\(path)/entered-in-error", CorrectionBody(reason: reason))
    }

    public func addNote(patient: String, _ note: NewNote) async throws -> Created {
        try await post("v1/patients/\(patient)/notes", note)
    }

    public func amend(note id: String, body: String) async throws -> Created {
        try await post("v1/notes/\(id)/amendments", Amendment(body: body))
    }

    public func notes(patient: String) async throws -> [Note] {
        try await all("v1/patients/\(patient)/notes", limit: 200)
    }

    public func addScore(patient: String, _ score: NewMeasurement) async throws -> Created {
        try await post("v1/patients/\(patient)/measurements", score)
    }

    /// Starts a trial; a dose above the dose table's maximum needs `highDoseReason`.
    public func startTrial(patient: String, _ trial: NewTrial) async throws -> Created {
        try await post("v1/patients/\(patient)/trials", trial)
    }

    /// A running trial's daily dose from a day on; the trial as it now stands.
    public func changeDose(trial: String, _ dose: NewDose) async throws -> Trial {
        try await post("v1/trials/\(trial)/dose", dose)
    }

    public func recordOutcome(trial: String, _ outcome: NewOutcome) async throws -> TrialOutcomeResult {
        try await post("v1/trials/\(trial)/outcome", outcome)
    }

    /// Makes a referral; a second open one of the same kind needs `reason`.
    public func refer(patient: String, _ referral: NewReferral) async throws -> Created {
        try await post("v1/patients/\(patient)/referrals", referral)
    }

    public func moveReferral(_ id: String, _ change: ReferralStatusChange) async throws -> Moved {
        try await post("v1/referrals/\(id)/status", change)
    }

    /// The referral against its payer's criteria: each met or not, and what to record.
    public func priorAuthCheck(referral: String, criteriaSet: String? = nil) async throws -> PriorAuthCheckOut {
        try await get("v1/referrals/\(referral)/prior-authorisation", query: ["criteria_set": criteriaSet])
    }

    /// Makes and keeps a prior-authorisation packet for the referral.
    public func makePriorAuthPacket(referral: String, criteriaSet: String? = nil, includeNotes: Bool = false)
        async throws -> PriorAuthPacketRef
    {
        try await post(
            "v1/referrals/\(referral)/prior-auth-packets",
            PacketBody(criteriaSet: criteriaSet, includeNotes: includeNotes ? true : nil))
    }

    /// The packets made for a referral, newest first.
    public func priorAuthPackets(referral: String) async throws -> [PriorAuthPacketItem] {
        try await get("v1/referrals/\(referral)/prior-auth-packets", as: Page<PriorAuthPacketItem>.self).items
    }

    /// Moves a packet's authorisation: submitted, approved (with sessions) or denied (with a reason).
    public func movePriorAuth(packet: String, _ change: PriorAuthStatusChange) async throws -> PriorAuthMoveOut {
        try await post("v1/prior-auth-packets/\(packet)/status", change)
    }

    /// Records (a date) or clears (nil) the patient's date of birth, which payers' age criteria read.
    public func setBirthDate(patient: String, _ day: String?) async throws -> BirthDateRecorded {
        try decode(
            try await send(
                .PUT, "v1/patients/\(patient)/birth-date", body: try Self.encoder.encode(BirthDateBody(birthDate: day))
            ).body)
    }

    /// Documents a statement for a payer under `key` (the latest of a key is the one criteria read).
    public func documentForPriorAuth(patient: String, key: String, text: String) async throws -> StatementRecorded {
        try await post("v1/patients/\(patient)/prior-auth-statements", StatementBody(key: key, text: text))
    }

    /// Completes a TMS or ECT screening handoff with the screen's answers (true: present).
    public func completeScreen(task: String, answers: [String: Bool], note: String?) async throws -> ScreenRecorded {
        try await post("v1/tasks/\(task)/contraindication-screen", ScreenBody(answers: answers, note: note))
    }

    /// A kept packet rendered: json, html or pdf (the PDF may take a few seconds to print).
    public func priorAuthPacket(_ id: String, format: String) async throws -> Data {
        try await send(.GET, "v1/prior-auth-packets/\(id)", query: ["format": format], timeout: .seconds(60)).body
    }

    public func movePatient(_ id: String, to status: String) async throws -> Moved {
        try await post("v1/patients/\(id)/status", PatientStatusChange(status: status))
    }

    /// The care plan and its ETag (send it back as If-Match).
    public func carePlan(patient: String) async throws -> (plan: CarePlan, etag: String) {
        let answer = try await send(.GET, "v1/patients/\(patient)/care-plan")
        return (try decode(answer.body), answer.headers["etag"] ?? "")
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

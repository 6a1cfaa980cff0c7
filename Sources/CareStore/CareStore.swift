import CareDomain
import Foundation
import Logging
import PQ

/// Why a store command refused: the caller gets a clear reason and nothing was written.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(String)
    case conflict(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .notFound(let what): "\(what) not found"
        case .conflict(let why): why
        case .invalid(let why): why
        }
    }
}

/// The care domain on PostgreSQL. Every command is one transaction: the state change, the
/// events it appends and the handoffs the playbook makes of them commit together or not at all.
public struct CareStore: Sendable {
    public let pool: PQPool
    let logger: Logger

    public init(pool: PQPool, logger: Logger = Logger(label: "carerelay.store")) {
        self.pool = pool
        self.logger = logger
    }

    /// Runs one command in its own transaction, retried on serialization failures and deadlocks.
    func command<T: Sendable>(_ body: (CommandContext) async throws -> T) async throws -> T {
        try await pool.withTransaction(retries: 5) { connection in
            try await body(CommandContext(connection: connection))
        }
    }
}

/// What a command works with inside its transaction.
final class CommandContext {
    let connection: PQConnection
    /// The dose table, playbook and settings, read once per transaction.
    private var reference: ReferenceData?

    init(connection: PQConnection) {
        self.connection = connection
    }

    /// Appends an event and makes the handoffs the playbook asks for, in this transaction.
    @discardableResult
    func append(
        _ type: String, teamID: UUID?, patientID: UUID?, actorID: UUID?, payload: [String: String] = [:],
        playbookEvent: (Date) -> PlaybookEvent? = { _ in nil }
    ) async throws -> AppendedEvent {
        let row = try await connection.query("""
            INSERT INTO events (type, team_id, patient_id, actor_id, payload)
            VALUES (\(type), \(teamID), \(patientID), \(actorID), \(PQJSON(payload))::jsonb)
            RETURNING id, occurred_at
            """)
        let (id, occurredAt) = try row[0].decode(Int64.self, Date.self)
        var handoffs: [UUID] = []
        if let patientID, let event = playbookEvent(occurredAt) {
            handoffs = try await applyPlaybook(eventID: id, event: event, patientID: patientID)
        }
        return AppendedEvent(id: id, occurredAt: occurredAt, handoffIDs: handoffs)
    }

    /// One task in the receiving role's pool and one handoff per matching playbook step.
    /// UNIQUE (event_id, step_key) makes a second handoff for the same step impossible.
    private func applyPlaybook(eventID: Int64, event: PlaybookEvent, patientID: UUID) async throws -> [UUID] {
        let playbook = try await loadPlaybook()
        var handoffIDs: [UUID] = []
        for plan in playbook.handoffs(for: event) {
            let handoffID = UUID()
            let taskID = UUID()
            try await connection.query("""
                INSERT INTO tasks (id, patient_id, title, pool_role, priority, due_at, origin, handoff_id)
                VALUES (\(taskID), \(patientID), \(plan.title), \(plan.role.rawValue), \(plan.priority.rawValue), \(plan.due), 'handoff', \(handoffID))
                """)
            try await connection.query("""
                INSERT INTO handoffs (id, event_id, step_key, patient_id, role, task_id, reason, due_at)
                VALUES (\(handoffID), \(eventID), \(plan.stepKey), \(patientID), \(plan.role.rawValue), \(taskID), \(plan.reason), \(plan.due))
                """)
            handoffIDs.append(handoffID)
        }
        return handoffIDs
    }

    func loadPlaybook() async throws -> Playbook {
        try await referenceData().playbook
    }

    func referenceData() async throws -> ReferenceData {
        if let reference { return reference }
        let loaded = try await ReferenceData.load(connection)
        reference = loaded
        return loaded
    }
}

public struct AppendedEvent: Sendable, Equatable {
    public var id: Int64
    public var occurredAt: Date
    public var handoffIDs: [UUID]
}

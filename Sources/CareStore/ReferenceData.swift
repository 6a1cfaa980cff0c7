import CareDomain
import Foundation
import PQ

/// The rules' data as the clinic has it in the database: the dose table, the playbook and the
/// rule settings (seeded with CareDomain's defaults, editable by an admin).
public struct ReferenceData: Sendable, Equatable {
    public var doseTable: DoseTable
    public var playbook: Playbook
    public var trialRules: TrialRules
    public var responseRules: ResponseRules
    public var recordRules: RecordRules

    public static func load(_ connection: PQConnection) async throws -> ReferenceData {
        let doses = try await connection.query(
            """
            SELECT drug, drug_class, minimum_adequate_daily_dose_mg, maximum_daily_dose_mg FROM dose_table ORDER BY drug
            """
        )
        let doseTable = DoseTable(
            entries: try doses.map { row in
                let (drug, drugClass, minimum, maximum) = try row.decode(
                    String.self, String.self, Double.self, Double?.self)
                guard let decodedClass = DrugClass(rawValue: drugClass) else {
                    throw PQError(.decoding, "dose_table has an unknown drug class \(drugClass) for \(drug)")
                }
                return DoseEntry(drug, decodedClass, minimum, max: maximum)
            })

        let stepRows = try await connection.query(
            """
            SELECT key, event, condition, role, title, priority, due_in_hours, one_per_patient
            FROM playbook_steps WHERE is_active ORDER BY position, key
            """)
        let playbook = Playbook(
            steps: try stepRows.map { row in
                let (key, event, condition, role, title, priority, dueInHours, onePerPatient) = try row.decode(
                    String.self, String.self, PQJSON<PlaybookCondition>.self, String.self, String.self, String.self,
                    Int.self, Bool.self)
                guard let decodedRole = Role(rawValue: role), let decodedPriority = TaskPriority(rawValue: priority)
                else {
                    throw PQError(.decoding, "playbook step \(key) has an unknown role or priority")
                }
                return PlaybookStep(
                    key: key, event: try EventType(column: "playbook_steps.event", event), condition: condition.value,
                    role: decodedRole, title: title,
                    priority: decodedPriority, dueInHours: dueInHours, onePerPatient: onePerPatient)
            })

        let settings = try await connection.query("SELECT name, value::text FROM rule_settings")
        var trialRules = TrialRules()
        var responseRules = ResponseRules()
        var recordRules = RecordRules()
        for row in settings {
            let (name, json) = try row.decode(String.self, String.self)
            switch name {
            case "trial": trialRules = try merged(trialRules, json)
            case "response": responseRules = try merged(responseRules, json)
            case "records": recordRules = try merged(recordRules, json)
            default: continue
            }
        }
        return ReferenceData(
            doseTable: doseTable, playbook: playbook, trialRules: trialRules, responseRules: responseRules,
            recordRules: recordRules)
    }

    /// Settings stored as JSON override the defaults key by key.
    private static func merged<T: Codable>(_ defaults: T, _ json: String) throws -> T {
        var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(defaults)) as? [String: Any] ?? [:]
        let stored = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] ?? [:]
        object.merge(stored) { _, new in new }
        return try JSONDecoder().decode(T.self, from: JSONSerialization.data(withJSONObject: object))
    }
}

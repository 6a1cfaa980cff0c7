import CoreFormats
import ArgumentParser
import CareDomain
import CareStore
import Foundation
import PQ

struct SeededSynthetic: Encodable {
    var team_id: LowercaseID
    var team_name: String
    var patients: Int
    var weeks: Int
    var rows: [String: Int]
}

extension CareServerCommand.Admin {
    /// Realistic synthetic data for trying the report at scale: a team with three clinicians
    /// and N patients enrolled over W weeks, each with fortnightly PHQ-9 scores along a course of
    /// their own (responders, partial responders, non-responders, a few safety signals), monthly
    /// progress and psychotherapy notes, one to three medication trials (ten weeks apart)
    /// (failed ones with their events, handoffs and tasks), TMS and ECT referrals, and open and
    /// overdue work. Made in one transaction with set-based SQL (seconds, not hours).
    struct SeedSynthetic: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "seed-synthetic",
            abstract: "Make a synthetic team with patients and their history (for the report at scale).",
            discussion: "Example: care-server admin seed-synthetic --patients 5000 --weeks 156 --json")

        @Option(help: "How many patients.") var patients: Int = 500
        @Option(help: "Weeks of history (patients are enrolled across them).") var weeks: Int = 52
        @Option(help: "The team's name (default: Synthetic N×W).") var teamName: String?
        @Option(help: "Seed for the random choices (the same seed makes the same data).") var seed: Double = 0.42
        @OptionGroup var options: AdminOptions

        func validate() throws {
            guard (1...100_000).contains(patients) else { throw ValidationError("--patients must be from 1 to 100000") }
            guard (1...520).contains(weeks) else { throw ValidationError("--weeks must be from 1 to 520") }
            guard (-1...1).contains(seed) else { throw ValidationError("--seed must be from -1 to 1") }
        }

        func run() async throws {
            let name = teamName ?? "Synthetic \(patients)x\(weeks)"
            let (patients, weeks, seed) = (patients, weeks, seed)
            try await options.withStore(
                { store in
                    let team = try await store.createTeam(name: name, by: .system())
                    var members: [UUID] = []
                    for (person, role) in [
                        ("Dr. Synthetic Psychiatrist", Role.psychiatrist),
                        ("Dr. Synthetic Psychologist", .psychologist),
                        ("Synthetic Social Worker", .socialWorker),
                    ] {
                        members.append(
                            try await store.createMember(
                                displayName: "\(person) (\(name))", teamID: team, roles: [role], by: .system()))
                    }
                    let rows = try await Self.generate(
                        store.pool, team: team, members: members, patients: patients, weeks: weeks, seed: seed)
                    return SeededSynthetic(
                        team_id: LowercaseID(team), team_name: name, patients: patients, weeks: weeks, rows: rows)
                },
                text: { seeded in
                    "Seeded \(seeded.team_name) (\(seeded.team_id)): "
                        + seeded.rows.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
                        + "."
                })
        }

        static func generate(_ pool: PQPool, team: UUID, members: [UUID], patients: Int, weeks: Int, seed: Double)
            async throws -> [String: Int]
        {
            let (psychiatrist, psychologist, socialWorker) = (members[0], members[1], members[2])
            return try await pool.withTransaction { connection in
                // The statements are sql/seed/synthetic.sql (compiled in); the settings are its inputs.
                try await connection.query(
                    """
                    SELECT setseed(\(seed)), set_config('synthetic.team', \(team.lowercasedString), true),
                           set_config('synthetic.psychiatrist', \(psychiatrist.lowercasedString), true),
                           set_config('synthetic.psychologist', \(psychologist.lowercasedString), true),
                           set_config('synthetic.social_worker', \(socialWorker.lowercasedString), true),
                           set_config('synthetic.patients', \(String(patients)), true), set_config('synthetic.weeks',
                               \(String(weeks)), true)
                    """)
                guard let script = embeddedSeedFiles.first(where: { $0.name == "synthetic.sql" }) else {
                    throw ServerError("this build carries no sql/seed/synthetic.sql")
                }
                try await connection.execute(script.sql)
                var counts: [String: Int] = [:]
                for table in [
                    "patients", "measurements", "notes", "trials", "referrals", "handoffs", "tasks", "events",
                ] {
                    let owner: PQQuery =
                        table == "patients" || table == "events"
                        ? "x.team_id" : "(SELECT team_id FROM patients p WHERE p.id = x.patient_id)"
                    counts[table] = try await connection.query(
                        "SELECT count(*) FROM \(unescaped: table) x WHERE \(fragment: owner) = \(team)")[0].decode(
                            Int.self, at: 0)
                }
                return counts
            }
        }
    }
}

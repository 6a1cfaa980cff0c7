import CoreFormats
import ArgumentParser
import CareDomain
import CareStore
import Foundation
import PQ

struct DemoMember: Encodable {
    var name: String; var role: String; var roles: [String]; var member_id: LowercaseID; var token: String
}
struct SeededDemo: Encodable {
    var team_id: LowercaseID; var created: Bool; var members: [DemoMember]; var patients: [LowercaseID]
    /// Demo tokens of an earlier run that nobody used, revoked now.
    var revoked_unused_tokens: Int
}

extension CareServerCommand.Admin {
    /// A demo team to try CareRelay with: four clinicians (the care manager is also the team's
    /// admin, to try running the team with), five patients with a few months of scores, a failed
    /// trial with its handoffs, a TMS referral. Run again, it keeps the data and issues fresh tokens.
    struct SeedDemo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "seed-demo",
            abstract: "Create (once) a demo team with patients, and print fresh tokens for its clinicians.",
            discussion: "Example: care-server admin seed-demo --port 8080")

        @Option(help: "The port the server will listen on (for the examples printed).") var port: Int = 8080
        @Option(help: "Days until the demo tokens expire.") var tokenDays: Int = 30
        @OptionGroup var options: AdminOptions

        static let teamName = "Demo team"
        static let integrationEmail = "integration@demo.carerelay.example"
        static let people: [(name: String, email: String, roles: [Role])] = [
            ("Dr. Asha Rao", "asha.rao@demo.carerelay.example", [.psychiatrist]),
            ("Dr. Ben Okafor", "ben.okafor@demo.carerelay.example", [.psychologist]),
            ("Carmen Diaz", "carmen.diaz@demo.carerelay.example", [.socialWorker]),
            ("Dev Patel", "dev.patel@demo.carerelay.example", [.careManager, .admin]),
        ]

        func run() async throws {
            guard tokenDays > 0 else { throw ValidationError("--token-days must be at least 1") }
            let port = port
            try await options.withStore(
                { store in
                    try await Self.seed(store, tokenDays: tokenDays)
                },
                text: { seeded in
                    let unused = seeded.revoked_unused_tokens
                    var lines = [
                        seeded.created
                            ? "Seeded the demo team (\(seeded.team_id))."
                            : "The demo team (\(seeded.team_id)) is already there; fresh tokens"
                                + (unused > 0 ? " (earlier ones nobody used, \(unused), are revoked):" : ":")
                    ]
                    for member in seeded.members {
                        lines.append(
                            """
                              \(member.role.padding(toLength: 14, withPad: " ", startingAt: 0)) \
                            \(member.name.padding(toLength: 16, withPad: " ", startingAt: 0)) \(member.token)
                            """
                        )
                    }
                    let psychiatrist =
                        seeded.members.first { $0.role == Role.psychiatrist.rawValue }?.token ?? "crt_..."
                    let integration = seeded.members.first { $0.role == Role.integration.rawValue }?.token ?? "crt_..."
                    let admin = seeded.members.first { $0.roles.contains(Role.admin.rawValue) }
                    let patient = seeded.patients.first.map(\.description) ?? "PATIENT_ID"
                    lines += [
                        "Try it (tokens expire in \(tokenDays) days; run seed-demo again for new ones):",
                        "  curl -s http://127.0.0.1:\(port)/v1/tasks -H 'Authorization: Bearer \(psychiatrist)'",
                        """
                          curl -s http://127.0.0.1:\(port)/v1/patients/\(patient) -H 'Authorization: Bearer \
                        \(psychiatrist)'
                        """,
                        "  echo \(psychiatrist) | .build/debug/care login --server http://127.0.0.1:\(port)",
                        "  .build/debug/care today; .build/debug/care queue; .build/debug/care patient show Ada",
                        admin.map {
                            """
                              \($0.name) is also the team's admin: logged in as them, .build/debug/care team add \
                            NAME --role ROLE adds a colleague (care team --help)
                            """
                        } ?? "",
                        """
                        Integrations (the service account's token): the event feed, waiting up to 30 s for news, and a \
                        webhook:
                        """,
                        """
                          curl -s 'http://127.0.0.1:\(port)/v1/events?wait=30' -H 'Authorization: Bearer \(integration)'
                        """,
                        """
                          curl -s http://127.0.0.1:\(port)/v1/webhooks -H 'Authorization: Bearer \(integration)' -H \
                        'Content-Type: application/json' \\
                        """,
                        """
                               -d '{\"url\": \"http://127.0.0.1:9999/hook\", \"event_types\": [\"handoff.created\", \
                        \"trial.failed\"]}'
                        """,
                        "The API is described at http://127.0.0.1:\(port)/openapi.json.",
                    ]
                    return lines.filter { !$0.isEmpty }.joined(separator: "\n")
                })
        }

        static func seed(_ store: CareStore, tokenDays: Int) async throws -> SeededDemo {
            let existing = try await store.pool.query("SELECT id FROM teams WHERE name = \(teamName)")
            var created = false
            let team: UUID
            var memberIDs: [UUID] = []
            var patients: [UUID] = []
            if let row = existing.firstRow {
                team = try row.decode(UUID.self, at: 0)
                for person in people {
                    let found = try await store.pool.query("SELECT id FROM members WHERE email = \(person.email)")
                    guard let row = found.firstRow else {
                        throw ServerError(
                            "the demo team lacks \(person.name); remove the team or seed another database")
                    }
                    let id = try row.decode(UUID.self, at: 0)
                    memberIDs.append(id)
                    // A demo team seeded before its care manager was its admin gets one too.
                    let held = try await store.pool.query(
                        "SELECT role FROM memberships WHERE member_id = \(id) AND team_id = \(team)"
                    ).column(String.self)
                    if !person.roles.allSatisfy({ held.contains($0.rawValue) }) {
                        let roles = Set(held.compactMap(Role.init(rawValue:))).union(person.roles)
                        _ = try await store.setMemberRoles(id, onTeam: team, roles: Array(roles), by: .system())
                    }
                }
                patients = try await store.pool.query(
                    "SELECT id FROM patients WHERE team_id = \(team) ORDER BY display_name"
                ).column(UUID.self)
            } else {
                created = true
                // A clinic in New York: its weeks and days are not UTC's (docs/time-zones.md).
                team = try await store.createTeam(name: teamName, timeZone: Self.zone, by: .system())
                for person in people {
                    memberIDs.append(
                        try await store.createMember(
                            displayName: person.name, email: person.email, teamID: team, roles: person.roles,
                            by: .system()))
                }
                patients = try await seedPatients(
                    store, team: team, psychiatrist: memberIDs[0], psychologist: memberIDs[1],
                    socialWorker: memberIDs[2])
            }
            // A service account for trying the feed and webhooks (added to a demo team seeded
            // before it existed, too).
            let integration: UUID
            if let row = try await store.pool.query("SELECT id FROM members WHERE email = \(integrationEmail)").firstRow
            {
                integration = try row.decode(UUID.self, at: 0)
            } else {
                integration = try await store.createMember(
                    displayName: "Demo integration", email: integrationEmail, teamID: team, roles: [.integration],
                    isServiceAccount: true, by: .system())
            }
            // The demo tokens an earlier run printed that nobody ever used go, so that every start of
            // the demo does not leave five more live tokens behind; those in use (a tester's saved
            // profile) stay until they expire.
            var revoked = 0
            if !created {
                for id in memberIDs + [integration] {
                    for token in try await store.tokens(member: id, by: .system())
                    where token.name == "demo" && token.lastUsedAt == nil {
                        try await store.revokeToken(token.id, by: .system())
                        revoked += 1
                    }
                }
            }
            var members: [DemoMember] = []
            for (person, id) in zip(people, memberIDs) {
                let token = try await store.issueToken(
                    memberID: id, name: "demo", expiresAt: expiry(days: tokenDays), by: .system())
                members.append(
                    DemoMember(
                        name: person.name, role: person.roles[0].rawValue, roles: person.roles.map(\.rawValue),
                        member_id: LowercaseID(id), token: token.token))
            }
            let integrationToken = try await store.issueToken(
                memberID: integration, name: "demo", scopes: [.eventsRead, .webhooksManage, .export],
                expiresAt: expiry(days: tokenDays), by: .system())
            members.append(
                DemoMember(
                    name: "Demo integration", role: Role.integration.rawValue, roles: [Role.integration.rawValue],
                    member_id: LowercaseID(integration), token: integrationToken.token))
            return SeededDemo(
                team_id: LowercaseID(team), created: created, members: members,
                patients: patients.map(LowercaseID.init),
                revoked_unused_tokens: revoked)
        }

        /// The demo clinic's zone.
        static let zone = "America/New_York"

        static func seedPatients(
            _ store: CareStore, team: UUID, psychiatrist: UUID, psychologist: UUID, socialWorker: UUID
        ) async throws -> [UUID] {
            let day: Double = 86_400
            let now = Date()
            func ago(_ days: Double) -> Date { now.addingTimeInterval(-days * day) }
            // A day (enrolment, a trial's start or stop) is the team's calendar day of that instant
            // (docs/time-zones.md): a first score taken at the same instant falls on that day there too.
            let calendar = LocalCalendar(identifier: zone)
            func dayOf(_ days: Double) -> Date { calendar.today(at: ago(days)) }
            // Ada: two failed antidepressant trials (TRD), referred for TMS.
            let ada = try await store.createPatient(
                teamID: team, mrn: "DEMO-1001", displayName: "Ada Lindqvist", enrolledOn: dayOf(200), by: .system())
            for (days, total) in [(200.0, 21), (150, 20), (100, 19), (60, 18), (20, 18)] {
                _ = try await store.recordMeasurement(
                    patientID: ada, score: try Score(.phq9, total: total), takenAt: ago(days),
                    by: .system(actingFor: psychiatrist))
            }
            let first = try await store.startTrial(
                patientID: ada, kind: .medication, drug: "sertraline", dailyDoseMg: 150, startedOn: dayOf(195),
                by: .system(actingFor: psychiatrist))
            _ = try await store.recordTrialOutcome(
                trialID: first, outcome: .nonResponse, stoppedOn: dayOf(120), adherence: 0.9,
                by: .system(actingFor: psychiatrist))
            let second = try await store.startTrial(
                patientID: ada, kind: .medication, drug: "venlafaxine", dailyDoseMg: 225, startedOn: dayOf(115),
                by: .system(actingFor: psychiatrist))
            _ = try await store.recordTrialOutcome(
                trialID: second, outcome: .nonResponse, stoppedOn: dayOf(30), adherence: 0.85,
                by: .system(actingFor: psychiatrist))
            _ = try await store.makeReferral(
                patientID: ada, kind: .tms, targetClinic: "Riverside TMS Centre", note: "Two adequate trials failed",
                by: .system(actingFor: psychiatrist))
            _ = try await store.addNote(
                patientID: ada, kind: .social, body: "Lives alone; no car. Bus pass renewed.",
                by: .system(actingFor: socialWorker))
            // Bruno: responding to escitalopram.
            let bruno = try await store.createPatient(
                teamID: team, mrn: "DEMO-1002", displayName: "Bruno Costa", enrolledOn: dayOf(90), by: .system())
            for (days, total) in [(90.0, 18), (60, 13), (30, 9), (5, 7)] {
                _ = try await store.recordMeasurement(
                    patientID: bruno, score: try Score(.phq9, total: total), takenAt: ago(days),
                    by: .system(actingFor: psychologist))
            }
            _ = try await store.startTrial(
                patientID: bruno, kind: .medication, drug: "escitalopram", dailyDoseMg: 15, startedOn: dayOf(88),
                by: .system(actingFor: psychiatrist))
            _ = try await store.addNote(
                patientID: bruno, kind: .progress, body: "Sleeping better; back at work part time.",
                by: .system(actingFor: psychologist))
            // Chen: a new patient, a safety signal this week.
            let chen = try await store.createPatient(
                teamID: team, mrn: "DEMO-1003", displayName: "Chen Wei", enrolledOn: dayOf(6), by: .system())
            _ = try await store.recordMeasurement(
                patientID: chen, score: try Score(.phq9, items: [3, 2, 3, 2, 2, 3, 2, 1, 1]), takenAt: ago(2),
                by: .system(actingFor: psychologist))
            // Dana: in remission, ready for relapse prevention.
            let dana = try await store.createPatient(
                teamID: team, mrn: "DEMO-1004", displayName: "Dana Novak", enrolledOn: dayOf(300), by: .system())
            for (days, total) in [(300.0, 16), (200, 9), (100, 5), (10, 3)] {
                _ = try await store.recordMeasurement(
                    patientID: dana, score: try Score(.phq9, total: total), takenAt: ago(days),
                    by: .system(actingFor: psychologist))
            }
            _ = try await store.startTrial(
                patientID: dana, kind: .psychotherapy, drug: nil, dailyDoseMg: nil, startedOn: dayOf(280),
                therapy: "CBT",
                by: .system(actingFor: psychologist))
            // Eli: not improving at week 10.
            let eli = try await store.createPatient(
                teamID: team, mrn: "DEMO-1005", displayName: "Eli Brandt", enrolledOn: dayOf(70), by: .system())
            for (days, total) in [(70.0, 19), (40, 18), (10, 19)] {
                _ = try await store.recordMeasurement(
                    patientID: eli, score: try Score(.phq9, total: total), takenAt: ago(days),
                    by: .system(actingFor: psychiatrist))
            }
            _ = try await store.startTrial(
                patientID: eli, kind: .medication, drug: "fluoxetine", dailyDoseMg: 20, startedOn: dayOf(65),
                by: .system(actingFor: psychiatrist))
            _ = try await store.createTask(
                patientID: eli, title: "Check adherence and side effects by phone", ownerID: socialWorker,
                priority: .urgent,
                dueAt: now.addingTimeInterval(2 * day), by: .system(actingFor: psychiatrist))
            return [ada, bruno, chen, dana, eli]
        }
    }
}

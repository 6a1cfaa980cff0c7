import CoreFormats
import CareDomain
import CareStore
import Foundation
import PQ
import Testing
import TestSupport

/// What care_app, the role requests run as, can no longer do (migration 0012).
@Suite("Least privilege for care_app", .timeLimit(.minutes(2)))
struct LeastPrivilegeTests {
    /// Runs `statement` as care_app with `member` set, as a request's transaction does.
    static func asCareApp(
        _ pool: PQPool, member: UUID, token: UUID = UUID(), request: String = "req-1", _ statement: PQQuery
    ) async throws {
        try await pool.withTransaction { connection in
            try await connection.query(
                """
                SELECT set_config('role', 'care_app', true), set_config('carerelay.member_id',
                    \(member.lowercasedString), true),
                       set_config('carerelay.token_id', \(token.lowercasedString), true),
                           set_config('carerelay.request_id', \(request), true)
                """)
            try await connection.query(statement)
        }
    }

    @Test(
        "care_app cannot join a team, create one, un-revoke a token, read token hashes or change the rules",
        arguments: [
            "join a team", "create a team", "un-revoke a token", "read token hashes", "change the dose table",
            "change the playbook", "rename a member",
        ])
    func refused(_ attempt: String) async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let other = try await clinic.store.createTeam(name: "South", by: .system())
            let token = try await clinic.store.issueToken(memberID: clinic.psychiatrist, expiresAt: nil, by: .system())
            try await clinic.store.revokeToken(token.id, by: .system())
            let statement: PQQuery =
                switch attempt {
                case "join a team":
                    """
                    INSERT INTO memberships (team_id, member_id, role) VALUES (\(other), \(clinic.psychiatrist), \
                    'psychiatrist')
                    """
                case "create a team": "INSERT INTO teams (name) VALUES ('Mine')"
                case "un-revoke a token": "UPDATE api_tokens SET revoked_at = NULL WHERE id = \(token.id)"
                case "read token hashes": "SELECT token_hash FROM api_tokens"
                case "change the dose table": "UPDATE dose_table SET minimum_adequate_daily_dose_mg = 1"
                case "change the playbook": "UPDATE playbook_steps SET is_active = false"
                default: "UPDATE members SET display_name = 'Someone else' WHERE id = \(clinic.psychiatrist)"
                }
            let error = await #expect(throws: PQError.self) {
                try await Self.asCareApp(pool, member: clinic.psychiatrist, statement)
            }
            #expect(error?.sqlState == "42501", "\(attempt): \(String(describing: error))")
            #expect(
                try await pool.query("SELECT revoked_at IS NOT NULL FROM api_tokens WHERE id = \(token.id)")[0].decode(
                    Bool.self, at: 0))
            #expect(
                try await pool.query("SELECT count(*) FROM memberships WHERE team_id = \(other) AND role <> 'admin'")[0]
                    .decode(Int.self, at: 0) == 0)
        }
    }

    @Test(
        "an audit entry names the member, token and request the transaction was entered with, whatever the insert says")
    func auditCannotBeForged() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let token = UUID()
            try await Self.asCareApp(
                pool, member: clinic.psychologist, token: token, request: "real-request",
                """
                INSERT INTO audit_entries (member_id, token_id, action, patient_id, resource, outcome, request_id, at)
                VALUES (\(clinic.psychologist), \(UUID()), 'patient.read', \(clinic.patient), '/forged', 'allowed',
                    'forged-request', '2001-01-01')
                """)
            let row = try await pool.query(
                """
                SELECT member_id, token_id, request_id, at > now() - interval '1 minute' FROM audit_entries WHERE \
                resource = '/forged'
                """
            )[0]
            let (member, tokenID, requestID, fresh) = try row.decode(UUID.self, UUID?.self, String?.self, Bool.self)
            #expect(member == clinic.psychologist && tokenID == token && requestID == "real-request" && fresh)
            // Naming another member: the entry names the one the transaction was entered with.
            try await Self.asCareApp(
                pool, member: clinic.psychologist,
                """
                INSERT INTO audit_entries (member_id, action, resource, outcome) VALUES (\(clinic.psychiatrist), 'x',
                    '/other', 'allowed')
                """)
            #expect(
                try await pool.query("SELECT member_id FROM audit_entries WHERE resource = '/other'")[0].decode(
                    UUID.self, at: 0) == clinic.psychologist)
        }
    }

    /// Runs `statements` on one connection of the server's pool, in one transaction.
    static func asServerLogin(_ pool: PQPool, _ statements: [PQQuery]) async throws {
        try await pool.withTransaction { connection in
            for statement in statements { try await connection.query(statement, prepared: false) }
        }
    }

    @Test(
        """
        requests log in as care_server, which can become care_app alone; the server's own work as care_service; \
        neither is a superuser or owns anything
        """
    )
    func serverLogins() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let requests = try #require(MigratedDatabase.requestPool(for: pool))
            for (login, expectedRoles) in [(requests, ["care_app"]), (pool, ["care_app"])] {
                let row = try await login.query(
                    """
                    SELECT session_user::text, current_user::text, r.rolsuper, r.rolinherit,
                           (SELECT count(*)::int FROM pg_class c WHERE c.relowner = r.oid),
                           (SELECT array_agg(g.rolname::text ORDER BY g.rolname) FROM pg_auth_members m JOIN pg_roles g
                               ON g.oid = m.roleid WHERE m.member = r.oid)
                    FROM pg_roles r WHERE r.rolname = session_user
                    """)[0]
                let (session, current, superuser, inherits, owned, memberOf) = try row.decode(
                    String.self, String.self, Bool.self, Bool.self, Int.self, [String]?.self)
                #expect(session == current && !superuser && !inherits && owned == 0, "\(session)")
                #expect(memberOf == expectedRoles, "\(session) is a member of \(String(describing: memberOf))")
            }
            #expect(
                try await requests.query("SELECT session_user::text")[0].decode(String.self, at: 0) == "care_server")
            #expect(try await pool.query("SELECT session_user::text")[0].decode(String.self, at: 0) == "care_service")
            #expect(
                try await pool.query(
                    """
                    SELECT count(*)::int FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relowner <>
                        'care_owner'::regrole
                    """)[0].decode(Int.self, at: 0) == 0, "every object in public is care_owner's")
        }
    }

    @Test(
        """
        the requests' login reads and writes nothing unless it becomes care_app, and cannot become care_service, the \
        owner or a superuser
        """,
        arguments: [
            "read patients", "read token hashes", "write an event", "RESET ROLE, then read patients",
            "become care_service", "become the owner", "become the superuser", "create a table",
        ])
    func requestsLoginRefused(_ attempt: String) async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let requests = try #require(MigratedDatabase.requestPool(for: pool))
            let statements: [PQQuery] =
                switch attempt {
                case "read patients": ["SELECT count(*) FROM patients"]
                case "read token hashes": ["SELECT token_hash FROM api_tokens"]
                case "write an event": ["INSERT INTO events (type, payload) VALUES ('forged', '{}')"]
                case "RESET ROLE, then read patients":
                    ["SET ROLE care_app", "RESET ROLE", "SELECT count(*) FROM patients"]
                case "become care_service": ["SET ROLE care_service"]
                case "become the owner": ["SET ROLE care_owner"]
                case "become the superuser": ["SET ROLE postgres"]
                default: ["CREATE TABLE mine (a int)"]
                }
            let error = await #expect(throws: PQError.self) { try await Self.asServerLogin(requests, statements) }
            #expect(error?.sqlState == "42501", "\(attempt): \(String(describing: error))")
            #expect(
                try await pool.query("SELECT count(*) FROM patients WHERE team_id = \(clinic.team)")[0].decode(
                    Int.self, at: 0) == 1)
        }
    }

    @Test(
        "care_service changes no schema, reference data or audit entry, and cannot become the owner or a superuser",
        arguments: [
            "become the owner", "become the superuser", "create a table", "drop a table", "turn off row-level security",
            "change the dose table", "change the rule settings", "delete an audit entry", "rewrite an audit entry",
            "run a program", "read a server file", "add itself to the owner",
        ])
    func serviceRefused(_ attempt: String) async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let statements: [PQQuery] =
                switch attempt {
                case "become the owner": ["SET ROLE care_owner"]
                case "become the superuser": ["SET ROLE postgres"]
                case "create a table": ["CREATE TABLE mine (a int)"]
                case "drop a table": ["DROP TABLE patients CASCADE"]
                case "turn off row-level security": ["ALTER TABLE patients DISABLE ROW LEVEL SECURITY"]
                case "change the dose table": ["UPDATE dose_table SET minimum_adequate_daily_dose_mg = 1"]
                case "change the rule settings": ["UPDATE rule_settings SET value = '{}'"]
                case "delete an audit entry": ["DELETE FROM audit_entries"]
                case "rewrite an audit entry": ["UPDATE audit_entries SET outcome = 'allowed'"]
                case "run a program": ["COPY (SELECT 1) TO PROGRAM 'true'"]
                case "read a server file": ["SELECT pg_read_file('/etc/hostname')"]
                default: ["GRANT care_owner TO care_service"]
                }
            let error = await #expect(throws: PQError.self) { try await Self.asServerLogin(pool, statements) }
            #expect(error?.sqlState == "42501", "\(attempt): \(String(describing: error))")
            #expect(
                try await pool.query("SELECT count(*) FROM patients WHERE team_id = \(clinic.team)")[0].decode(
                    Int.self, at: 0) == 1)
        }
    }

    @Test(
        """
        a database migrated before the roles were split (its objects a superuser's) is handed to care_owner, and the \
        server's login then works in it
        """
    )
    func legacyDatabaseHandedOver() async throws {
        let database = try await TestDatabase.shared()
        try await database.roles()
        let name = try await database.makeDatabaseNamed(prefix: "legacy")
        let legacy = PQPool(
            configuration: database.configuration(database: name),
            options: .init(minimumConnections: 0, maximumConnections: 1))
        try await Migrator(migrations: Migration.embedded()).migrate(legacy)
        await legacy.close()

        let admin = try await PQConnection.connect(database.adminConfiguration)
        try await DatabaseRoles.bootstrap(admin, database: name)
        await admin.close()
        let inside = try await PQConnection.connect(database.configuration(database: name))
        try await DatabaseRoles.giveObjectsToOwner(inside)
        let row = try await inside.query(
            """
            SELECT (SELECT count(*)::int FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relowner <>
                'care_owner'::regrole),
                   (SELECT count(*)::int FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND proowner <>
                       'care_owner'::regrole),
                   (SELECT datdba::regrole::text FROM pg_database WHERE datname = current_database())
            """, prepared: false)[0]
        await inside.close()
        let (relations, routines, owner) = try row.decode(Int.self, Int.self, String.self)
        #expect(
            relations == 0 && routines == 0 && owner == "care_owner",
            "\(relations) relations, \(routines) routines not care_owner's; database owner \(owner)")

        let pool = PQPool(
            configuration: database.configuration(database: name, user: DatabaseRoles.owner),
            options: .init(minimumConnections: 0, maximumConnections: 1))
        #expect(try await Migrator(migrations: Migration.embedded()).migrate(pool).isEmpty, "nothing left to migrate")
        await pool.close()
        let server = PQPool(
            configuration: database.configuration(database: name, user: DatabaseRoles.service),
            options: .init(minimumConnections: 0, maximumConnections: 2))
        let requests = PQPool(
            configuration: database.configuration(database: name, user: DatabaseRoles.server),
            options: .init(minimumConnections: 0, maximumConnections: 2))
        let store = CareStore(pool: server, requestPool: requests, logger: testLogger())
        let team = try await store.createTeam(name: "North", by: .system())
        _ = try await store.createPatient(
            teamID: team, mrn: "L-1", displayName: "Lee", enrolledOn: Date(), by: .system())
        #expect(try await server.query("SELECT count(*) FROM patients")[0].decode(Int.self, at: 0) == 1)
        await server.close()
        await requests.close()
    }
}

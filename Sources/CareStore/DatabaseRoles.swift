import Foundation
import Logging
import PQ

/// The database roles CareRelay runs under (docs/operations.md, "Database roles"):
///
/// - `care_owner` owns the schema and every object in it; migrations log in as it. The server
///   never does.
/// - `care_server` is the login of requests' connections: not a superuser, owns nothing,
///   NOINHERIT, a member of care_app alone. On its own (after `RESET ROLE`) it can read or
///   change no table; every request's transaction becomes `care_app`, under row-level security.
/// - `care_service` is the login of the server's own work (authentication, the escalation job,
///   webhook delivery, administration) with row, not schema, rights: no DDL, no change to the
///   dose table, playbook or rule settings, no update or delete of audit entries (migration
///   0013). It may become care_app too, for a server given one login for both.
public enum DatabaseRoles {
    public static let owner = "care_owner"
    public static let server = "care_server"
    public static let service = "care_service"
    public static let app = "care_app"

    /// What a superuser runs for the embedded cluster and the tests: makes the roles (cluster
    /// wide, once), and gives `database`, its public schema and whatever a superuser made in it
    /// before (a data directory from before the roles were split) to care_owner.
    public static func bootstrap(_ admin: PQConnection, database: String) async throws {
        try await admin.execute(
            """
            DO $$
            BEGIN
                BEGIN CREATE ROLE care_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
                EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
                BEGIN CREATE ROLE care_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
                EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
                BEGIN CREATE ROLE care_service LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
                EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
                IF NOT (SELECT rolcanlogin AND NOT rolinherit FROM pg_roles WHERE rolname = 'care_service') THEN
                    ALTER ROLE care_service LOGIN NOINHERIT;
                END IF;
                BEGIN CREATE ROLE care_server LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
                EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
                IF NOT pg_has_role('care_server', 'care_app', 'MEMBER') THEN
                    GRANT care_app TO care_server;
                END IF;
                -- care_server becomes care_app and nothing else.
                IF pg_has_role('care_server', 'care_service', 'MEMBER') THEN
                    REVOKE care_service FROM care_server;
                END IF;
                IF NOT pg_has_role('care_service', 'care_app', 'MEMBER') THEN
                    GRANT care_app TO care_service;
                END IF;
            END
            $$
            """)
        let owner = try await admin.query("SELECT datdba::regrole::text FROM pg_database WHERE datname = \(database)")
        if try owner.firstRow?.decode(String.self, at: 0) != DatabaseRoles.owner {
            try await admin.execute("ALTER DATABASE \(quoteIdentifier(database)) OWNER TO care_owner")
        }
    }

    /// A session advisory lock (in the maintenance database the superuser connects to) that
    /// keeps two servers starting on one embedded cluster from setting up roles at once.
    public static let bootstrapLock: Int64 = 0x6361_7265_726f_6c65  // "careroles"

    /// Run by a superuser connected to the database: its public schema and every object a
    /// superuser made there become care_owner's (sequences follow their tables).
    public static func giveObjectsToOwner(_ admin: PQConnection) async throws {
        try await admin.execute(
            """
            DO $$
            DECLARE
                object record;
            BEGIN
                IF (SELECT nspowner FROM pg_namespace WHERE nspname = 'public') <> 'care_owner'::regrole THEN
                    EXECUTE 'ALTER SCHEMA public OWNER TO care_owner';
                END IF;
                FOR object IN
                    SELECT c.oid::regclass AS name, c.relkind FROM pg_class c
                    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
                      AND c.relowner <> 'care_owner'::regrole
                      AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                          AND d.deptype IN ('a', 'i'))
                LOOP
                    EXECUTE format('ALTER %s %s OWNER TO care_owner',
                        CASE object.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN
                            'MATERIALIZED VIEW'
                                            WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, object.name);
                END LOOP;
                FOR object IN
                    SELECT p.oid::regprocedure AS name FROM pg_proc p
                    WHERE p.pronamespace = 'public'::regnamespace AND p.proowner <> 'care_owner'::regrole
                LOOP
                    EXECUTE format('ALTER ROUTINE %s OWNER TO care_owner', object.name);
                END LOOP;
                FOR object IN
                    SELECT t.oid::regtype AS name FROM pg_type t
                    WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'd') AND t.typowner <>
                        'care_owner'::regrole
                LOOP
                    EXECUTE format('ALTER TYPE %s OWNER TO care_owner', object.name);
                END LOOP;
            END
            $$
            """)
    }

    /// How the server's login stands, for a warning at start: a superuser, or the owner of the
    /// tables, runs without the split (docs/operations.md).
    public struct LoginCheck: Sendable {
        public var login: String
        public var isSuperuser: Bool
        public var ownsTables: Bool
        public var canBecomeService: Bool
        public var canBecomeApp: Bool
    }

    public static func check(_ connection: PQConnection) async throws -> LoginCheck {
        let row = try await connection.query(
            """
            SELECT session_user::text, r.rolsuper,
                   EXISTS (SELECT FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relowner = r.oid),
                   CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = 'care_service') THEN pg_has_role(session_user,
                       'care_service', 'MEMBER') ELSE false END,
                   CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = 'care_app') THEN pg_has_role(session_user,
                       'care_app', 'MEMBER') ELSE false END
            FROM pg_roles r WHERE r.rolname = session_user
            """, prepared: false)[0]
        let (login, superuser, owns, service, app) = try row.decode(
            String.self, Bool.self, Bool.self, Bool.self, Bool.self)
        return LoginCheck(
            login: login, isSuperuser: superuser, ownsTables: owns, canBecomeService: service, canBecomeApp: app)
    }
}

import Foundation
import LocalPostgres
import PQ

#if canImport(Glibc)
    import Glibc
#endif

/// A real PgBouncer (Debian's package; deploy/setup --tests installs it) in transaction mode
/// in front of the test cluster, on a Unix socket in a directory of its own, as the deployment
/// runs it (docs/operations.md, "Behind a connection pooler"). As root it runs as the postgres
/// user, like PostgreSQL. Every database of the cluster is reachable through it under its own
/// name; logins are trusted (the cluster trusts its socket too). `poolSize` server connections
/// per database and login, so clients share them: what one client leaves in a session, the
/// next meets.
public final class PgBouncer: Sendable {
    public let directory: String
    public let port = 6432
    let runAsPostgres: Bool

    public var socketDirectory: String { directory }
    public var logFile: String { directory + "/pgbouncer.log" }

    /// Starts PgBouncer in front of `cluster`; the caller stops it.
    public static func start(in front: LocalPostgres, poolSize: Int = 2) async throws -> PgBouncer {
        try await LocalPostgres.offload { try PgBouncer(front: front, poolSize: poolSize) }
    }

    private init(front cluster: LocalPostgres, poolSize: Int) throws {
        directory =
            FileManager.default.temporaryDirectory.path
            + "/carerelay-pgbouncer-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        runAsPostgres = geteuid() == 0
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let users = ["postgres", "care_server", "care_service", "care_owner"]
        try users.map { "\"\($0)\" \"\"" }.joined(separator: "\n").write(
            toFile: directory + "/userlist.txt", atomically: true, encoding: .utf8)
        let configuration = """
            [databases]
            * = host=\(cluster.socketDirectory) port=\(cluster.port)

            [pgbouncer]
            listen_addr =
            listen_port = \(port)
            unix_socket_dir = \(directory)
            unix_socket_mode = 0777
            auth_type = trust
            auth_file = \(directory)/userlist.txt
            pool_mode = transaction
            default_pool_size = \(poolSize)
            max_client_conn = 500
            server_reset_query =
            logfile = \(logFile)
            pidfile = \(directory)/pgbouncer.pid
            admin_users = postgres
            """
        try configuration.write(toFile: directory + "/pgbouncer.ini", atomically: true, encoding: .utf8)
        if runAsPostgres {
            guard let user = getpwnam("postgres") else { throw PgBouncerError("no postgres user to run PgBouncer as") }
            for path in [directory, directory + "/userlist.txt", directory + "/pgbouncer.ini"] {
                _ = chown(path, user.pointee.pw_uid, user.pointee.pw_gid)
            }
        }
        guard let binary = Self.binary() else {
            throw PgBouncerError("PgBouncer is not installed: deploy/setup --tests installs Debian's pgbouncer package")
        }
        // -d: it forks into the background once it listens, and writes its pid file.
        do {
            try cluster.runAsServerUser(binary, ["-d", directory + "/pgbouncer.ini"])
        } catch {
            let log = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
            throw PgBouncerError("\(error)\n\(log)")
        }
        let socket = directory + "/.s.PGSQL.\(port)"
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: socket) {
            usleep(50_000)
        }
        guard FileManager.default.fileExists(atPath: socket) else {
            throw PgBouncerError("pgbouncer did not open its socket \(socket)")
        }
    }

    static func binary() -> String? {
        ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// A libpq URL for `user` on `database` through PgBouncer.
    public func url(database: String, user: String) -> String {
        "postgresql:///\(database)?host=\(directory)&port=\(port)&user=\(user)"
    }

    public func configuration(database: String, user: String, transactionPooler: Bool = true) -> PQConfiguration {
        PQConfiguration(url(database: database, user: user), transactionPooler: transactionPooler)
    }

    /// What PgBouncer logged (its logins, among them).
    public var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// Stops PgBouncer and deletes its directory, on a thread of its own: the caller (a test's
    /// `defer`, on Swift's cooperative pool of two threads) does not wait. SIGTERM shuts it down
    /// at once (SIGINT would wait for its clients to leave), but PgBouncer keeps the signal mask
    /// of the test process that started it, where SIGTERM may be blocked: then SIGKILL, after a
    /// second. (Waiting here with usleep held a pool thread for a second or more, and two tests
    /// stopping their PgBouncers at once held both: other tests' timers then fired late.)
    public func stop() {
        let directory = directory
        let thread = Thread {
            if let text = try? String(contentsOfFile: directory + "/pgbouncer.pid", encoding: .utf8),
                let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                kill(pid, SIGTERM)
                for _ in 0..<20 where kill(pid, 0) == 0 { usleep(50_000) }
                if kill(pid, 0) == 0 {
                    kill(pid, SIGKILL)
                    for _ in 0..<40 where kill(pid, 0) == 0 { usleep(50_000) }
                }
            }
            try? FileManager.default.removeItem(atPath: directory)
        }
        thread.start()
    }
}

public struct PgBouncerError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

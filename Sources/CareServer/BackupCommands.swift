import ArgumentParser
import CareStore
import Foundation
import LocalPostgres
import Logging
import PQ

#if canImport(Glibc)
    import Glibc
#endif

/// Backup and restore for the embedded and single-host setups (docs/operations.md, "Backup
/// and restore"): pg_dump's custom format, one consistent snapshot of the whole database taken
/// while it serves, restored with pg_restore into a fresh database in one transaction.
/// deploy/backup and deploy/restore run these. (Kubernetes: CloudNativePG's backups.)
extension CareServerCommand {
    struct Backup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Back the database up into one file (pg_dump custom format), while it serves.",
            discussion: """
                With a DATABASE_URL, the dump logs in as the schema owner (--migration-database-url, \
                else the database URL). Examples:
                  care-server backup                                  # the embedded database
                  care-server backup --output /backups/carerelay.dump
                """)

        @Option(help: "The file to write (default: carerelay-<UTC time>.dump here).")
        var output: String?

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let logger = database.makeLogger("carerelay.backup")
            let opened = try await database.open(logger: logger)
            defer { opened.close(logger: logger) }
            let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
            let target = URL(fileURLWithPath: output ?? "carerelay-\(stamp).dump").standardizedFileURL.path
            guard !FileManager.default.fileExists(atPath: target) else {
                throw ServerError("\(target) exists already: back up into a new file")
            }
            let pgDump = try LocalPostgres.program("pg_dump")
            let arguments = ["--format=custom", "--compress=6", "--no-password"]
            try await LocalPostgres.offload {
                if let cluster = opened.embedded {
                    // As the superuser over the cluster's socket; as root, pg_dump runs as the
                    // postgres user and writes into the cluster's directory first.
                    let temporary = cluster.directory + "/backup-\(UInt32.random(in: 0...UInt32.max)).dump"
                    defer { try? FileManager.default.removeItem(atPath: temporary) }
                    try cluster.runAsServerUser(
                        pgDump,
                        arguments + [
                            "--file=\(temporary)", "--host=\(cluster.socketDirectory)", "--port=\(cluster.port)",
                            "--username=\(cluster.superuser)", "--dbname=\(DatabaseOptions.embeddedDatabase)",
                        ])
                    try FileManager.default.copyItem(atPath: temporary, toPath: target)
                } else {
                    try Self.redacting(opened.migrationConfiguration) {
                        try LocalPostgres.runProgram(
                            pgDump,
                            arguments + ["--file=\(target)", "--dbname=\(opened.migrationConfiguration.conninfo)"]
                        )
                    }
                }
                chmod(target, 0o600)
            }
            let size = (try? FileManager.default.attributesOfItem(atPath: target)[.size] as? Int) ?? 0
            print("Backed up to \(target) (\(size) bytes). Restore with: deploy/restore \(target)")
        }

        /// Runs `body`, keeping a password in the connection string out of its error.
        static func redacting(_ configuration: PQConfiguration, _ body: () throws -> Void) throws {
            do {
                try body()
            } catch {
                throw ServerError(
                    "\(error)".replacingOccurrences(of: configuration.conninfo, with: configuration.description))
            }
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a backup (care-server backup) into a fresh database.",
            discussion: """
                The database must be empty: a new --data-dir (care-server makes the cluster, its roles \
                and database), or an empty database made as docs/operations.md says, restored as its \
                owner (--migration-database-url, else the database URL). All or nothing: one transaction.
                Examples:
                  care-server restore carerelay.dump --data-dir /var/lib/carerelay-restored
                """)

        @Argument(help: "The backup file.")
        var file: String

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let logger = database.makeLogger("carerelay.restore")
            let source = URL(fileURLWithPath: file).standardizedFileURL.path
            guard FileManager.default.isReadableFile(atPath: source) else {
                throw ServerError("cannot read \(source)")
            }
            let opened = try await database.open(logger: logger)
            defer { opened.close(logger: logger) }
            let probe = try await PQConnection.connect(opened.migrationConfiguration, logger: logger)
            let tables = try await probe.query(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")[0].decode(Int.self, at: 0)
            await probe.close()
            guard tables == 0 else {
                throw ServerError(
                    """
                    the database already has \(tables) tables: restore into a fresh one (a new --data-dir, or an empty \
                    database)
                    """
                )
            }
            let pgRestore = try LocalPostgres.program("pg_restore")
            let arguments = ["--single-transaction", "--exit-on-error", "--no-password"]
            try await LocalPostgres.offload {
                if let cluster = opened.embedded {
                    // The postgres user must be able to read the file: a copy in the cluster's directory.
                    let copy = cluster.directory + "/restore-\(UInt32.random(in: 0...UInt32.max)).dump"
                    defer { try? FileManager.default.removeItem(atPath: copy) }
                    try FileManager.default.copyItem(atPath: source, toPath: copy)
                    try cluster.handToServerUser(copy)
                    try cluster.runAsServerUser(
                        pgRestore,
                        arguments + [
                            "--host=\(cluster.socketDirectory)", "--port=\(cluster.port)",
                            "--username=\(cluster.superuser)", "--dbname=\(DatabaseOptions.embeddedDatabase)", copy,
                        ])
                } else {
                    try Backup.redacting(opened.migrationConfiguration) {
                        try LocalPostgres.runProgram(
                            pgRestore,
                            arguments + ["--no-owner", "--dbname=\(opened.migrationConfiguration.conninfo)", source])
                    }
                }
            }
            let check = try await PQConnection.connect(opened.migrationConfiguration, logger: logger)
            let patients = try await check.query("SELECT count(*) FROM patients")[0].decode(Int.self, at: 0)
            let events = try await check.query("SELECT count(*) FROM events")[0].decode(Int.self, at: 0)
            await check.close()
            print("Restored \(source): \(patients) patients, \(events) events. Start care-server on it as usual.")
        }
    }
}

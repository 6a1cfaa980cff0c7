import Foundation
import Logging

/// A private PostgreSQL cluster in a directory we own: initdb'd on first use, started with
/// pg_ctl, listening on a Unix socket only (no TCP), stopped by whoever started it.
///
/// PostgreSQL refuses to run as root, so as root every server command runs as the `postgres`
/// user (`runuser -u postgres --`) on directories that user owns.
///
/// Layout of `directory`: `data/` (PGDATA), `run/` (the socket), `postgres.log`.
public final class LocalPostgres: Sendable {
    public struct Binaries: Sendable {
        public var initdb: String
        public var pgCtl: String
    }

    public let directory: String
    public let port: Int
    public let settings: [String: String]
    public let superuser = "postgres"
    public let binaries: Binaries
    let logger: Logger
    let runAsUser: String?

    public var dataDirectory: String { directory + "/data" }
    public var logFile: String { directory + "/postgres.log" }

    /// The directory holding the socket. A Unix socket path must fit in 107 bytes; a deep
    /// directory gets a short one under /tmp instead.
    public var socketDirectory: String {
        let preferred = directory + "/run"
        if (preferred + "/.s.PGSQL.\(port)").utf8.count < 100 { return preferred }
        var hasher = FNV1a()
        hasher.combine(directory)
        return "/tmp/carerelay-pg-\(String(hasher.value, radix: 36))"
    }

    /// A libpq connection string for `database` on this cluster.
    public func conninfo(database: String = "postgres") -> String {
        "host='\(socketDirectory)' port=\(port) user=\(superuser) dbname='\(database)'"
    }

    /// `settings` are extra server settings (e.g. `fsync: off` for tests).
    public init(
        directory: String, port: Int = 5432, settings: [String: String] = [:],
        logger: Logger = Logger(label: "carerelay.local-postgres")
    ) throws {
        self.directory = URL(fileURLWithPath: directory).standardizedFileURL.path
        self.port = port
        self.settings = settings
        self.logger = logger
        self.binaries = try Self.findBinaries()
        self.runAsUser = geteuid() == 0 ? "postgres" : nil
    }

    /// The default place for the embedded cluster: under the user's data directory
    /// ($XDG_DATA_HOME or ~/.local/share), or /var/lib/carerelay as root, since root's home is
    /// closed to the postgres user.
    public static func defaultDirectory() -> String {
        let environment = ProcessInfo.processInfo.environment
        if geteuid() == 0 { return "/var/lib/carerelay/postgres" }
        if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty { return xdg + "/carerelay/postgres" }
        return NSHomeDirectory() + "/.local/share/carerelay/postgres"
    }

    // MARK: Finding PostgreSQL

    public static func findBinaries() throws -> Binaries {
        let fileManager = FileManager.default
        var candidates: [String] = []
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            candidates.append(String(directory))
        }
        // Debian keeps the server binaries out of PATH, one directory per major version.
        let versions = ((try? fileManager.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .compactMap { Int($0) }.sorted(by: >)
        candidates += versions.map { "/usr/lib/postgresql/\($0)/bin" }
        for directory in candidates {
            let initdb = directory + "/initdb"
            let pgCtl = directory + "/pg_ctl"
            if fileManager.isExecutableFile(atPath: initdb), fileManager.isExecutableFile(atPath: pgCtl) {
                return Binaries(initdb: initdb, pgCtl: pgCtl)
            }
        }
        throw LocalPostgresError(
            "PostgreSQL server programs (initdb, pg_ctl) were not found on PATH or under /usr/lib/postgresql/*/bin. "
                + """
                Install them (Debian/Ubuntu: apt-get install postgresql), or set DATABASE_URL to use an existing \
                server.
                """
        )
    }

    // MARK: Lifecycle

    /// True when a postmaster is running on this data directory.
    public func isRunning() -> Bool {
        guard FileManager.default.fileExists(atPath: dataDirectory + "/PG_VERSION") else { return false }
        return (try? run(binaries.pgCtl, ["status", "-D", dataDirectory], quiet: true)) != nil
    }

    /// Creates the cluster on first use and starts it unless it is already running.
    /// Returns true when this call started the server (and so should stop it).
    @discardableResult
    public func start() throws -> Bool {
        try prepareDirectories()
        if !FileManager.default.fileExists(atPath: dataDirectory + "/PG_VERSION") {
            logger.info("creating private PostgreSQL cluster", metadata: ["directory": "\(dataDirectory)"])
            try run(
                binaries.initdb,
                [
                    "-D", dataDirectory, "-U", superuser, "--auth=trust", "-E", "UTF8", "--locale=C",
                    "--no-instructions",
                ])
        }
        if isRunning() {
            logger.info("reusing running private PostgreSQL", metadata: ["directory": "\(dataDirectory)"])
            return false
        }
        var options = [
            "-c listen_addresses=''",
            "-c unix_socket_directories=\(shellQuote(socketDirectory))",
            "-c unix_socket_permissions=0700",
            "-c port=\(port)",
        ]
        for (key, value) in settings.sorted(by: { $0.key < $1.key }) {
            options.append("-c \(key)=\(shellQuote(value))")
        }
        logger.info("starting private PostgreSQL", metadata: ["socket": "\(socketDirectory)"])
        do {
            try run(
                binaries.pgCtl,
                [
                    "start", "-w", "-t", "60", "-D", dataDirectory, "-l", logFile, "-o", options.joined(separator: " "),
                ])
        } catch {
            let tail =
                (try? String(contentsOfFile: logFile, encoding: .utf8))?
                .split(separator: "\n").suffix(5).joined(separator: "\n") ?? ""
            throw LocalPostgresError("\(error)\nlast lines of \(logFile):\n\(tail)")
        }
        return true
    }

    /// Makes this (not yet created) cluster a streaming standby of `primary` with
    /// pg_basebackup (its WAL streamed, `standby.signal` and `primary_conninfo` written) and
    /// starts it: read-only, replaying what the primary commits. The primary must allow
    /// replication connections on its socket (initdb's default with trust does).
    public func startAsStandby(of primary: LocalPostgres) throws {
        try prepareDirectories()
        guard !FileManager.default.fileExists(atPath: dataDirectory + "/PG_VERSION") else {
            throw LocalPostgresError("\(dataDirectory) already holds a cluster")
        }
        let basebackup = try Self.program("pg_basebackup")
        try run(
            basebackup,
            [
                "-D", dataDirectory, "-h", primary.socketDirectory, "-p", String(primary.port), "-U", primary.superuser,
                "-X", "stream", "-R", "--checkpoint=fast", "--no-sync",
            ])
        try start()
    }

    /// Stops the server: `fast` rolls back open transactions and disconnects clients.
    public func stop(mode: String = "fast") throws {
        guard isRunning() else { return }
        logger.info("stopping private PostgreSQL", metadata: ["directory": "\(dataDirectory)"])
        try run(binaries.pgCtl, ["stop", "-w", "-m", mode, "-D", dataDirectory], quiet: true)
    }

    /// Stops the server if it runs and deletes the whole directory.
    public func destroy() {
        try? stop(mode: "immediate")
        try? FileManager.default.removeItem(atPath: directory)
        if !socketDirectory.hasPrefix(directory) { try? FileManager.default.removeItem(atPath: socketDirectory) }
    }

    private func prepareDirectories() throws {
        let fileManager = FileManager.default
        // Parents must stay traversable for the postgres user; only our own directories are private.
        let parent = (directory as NSString).deletingLastPathComponent
        if !fileManager.fileExists(atPath: parent) {
            try fileManager.createDirectory(
                atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        }
        for path in [directory, dataDirectory, socketDirectory] {
            if !fileManager.fileExists(atPath: path) {
                try fileManager.createDirectory(
                    atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
            if runAsUser != nil {
                try chownToPostgres(path)
            }
        }
        if runAsUser != nil, !fileManager.fileExists(atPath: logFile) {
            _ = fileManager.createFile(atPath: logFile, contents: nil, attributes: [.posixPermissions: 0o600])
            try chownToPostgres(logFile)
        }
    }

    private func chownToPostgres(_ path: String) throws {
        guard let user = getpwnam("postgres") else {
            throw LocalPostgresError(
                "running as root needs a 'postgres' user to run PostgreSQL; install the postgresql package")
        }
        let uid = user.pointee.pw_uid
        let gid = user.pointee.pw_gid
        var info = stat()
        if stat(path, &info) == 0, info.st_uid == uid { return }
        guard chown(path, uid, gid) == 0 else {
            throw LocalPostgresError("cannot give \(path) to the postgres user: \(String(cString: strerror(errno)))")
        }
    }

    // MARK: Running commands

    /// Runs a companion program of the server (PgBouncer, pg_dump, pg_basebackup) as the user
    /// PostgreSQL runs as, to completion; returns its output or throws with it.
    @discardableResult
    public func runAsServerUser(_ executable: String, _ arguments: [String]) throws -> String {
        try run(executable, arguments)
    }

    /// A PostgreSQL client program (pg_dump, pg_restore, pg_basebackup) of the same version as
    /// the server programs found (beside pg_ctl, which may be a link into Debian's versioned
    /// directory).
    public static func program(_ name: String) throws -> String {
        let pgCtl = try findBinaries().pgCtl
        return (URL(fileURLWithPath: pgCtl).resolvingSymlinksInPath().path as NSString).deletingLastPathComponent
            + "/" + name
    }

    /// Runs a program as this process's own user, to completion; returns its output or throws
    /// with it (blocking: call it through `offload`).
    @discardableResult
    public static func runProgram(_ executable: String, _ arguments: [String]) throws -> String {
        let (status, text) = try spawnAndWait(["/bin/sh", "-c", "exec \"$@\"", "sh", executable] + arguments)
        guard status == 0 else {
            throw LocalPostgresError(
                """
                `\(([executable] + arguments).joined(separator: " "))` failed (exit \(status)): \
                \(text.trimmingCharacters(in: .whitespacesAndNewlines))
                """
            )
        }
        return text
    }

    /// Whether server programs run as the postgres user (this process is root).
    public var runsAsServerUser: Bool { runAsUser != nil }

    /// Gives `path` to the user the server runs as (when that is not this process's).
    public func handToServerUser(_ path: String) throws {
        if runAsUser != nil { try chownToPostgres(path) }
    }

    /// Runs a command to completion and returns its output. We spawn and wait ourselves:
    /// Foundation's Process.waitUntilExit can hang when called from an async context on Linux.
    @discardableResult
    func run(_ executable: String, _ arguments: [String], quiet: Bool = false) throws -> String {
        var command = [executable] + arguments
        if let user = runAsUser {
            command = [Self.runuser(), "-u", user, "--"] + command
        }
        // The postgres user cannot enter root's working directory: start from /.
        let argv = ["/bin/sh", "-c", "cd / && exec \"$@\"", "sh"] + command
        let (status, text) = try Self.spawnAndWait(argv)
        guard status == 0 else {
            throw LocalPostgresError(
                """
                `\(([executable] + arguments).joined(separator: " "))` failed (exit \(status)): \
                \(text.trimmingCharacters(in: .whitespacesAndNewlines))
                """
            )
        }
        if !quiet, !text.isEmpty { logger.debug("\(text)") }
        return text
    }

    private static func spawnAndWait(_ argv: [String]) throws -> (Int32, String) {
        var pipeDescriptors: [Int32] = [-1, -1]
        guard pipe(&pipeDescriptors) == 0 else { throw LocalPostgresError("pipe: \(String(cString: strerror(errno)))") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeDescriptors[1], 1)
        posix_spawn_file_actions_adddup2(&actions, pipeDescriptors[1], 2)
        // Nothing else of ours (sockets, files) may leak into the server processes.
        // (glibc >= 2.34 has the call; the header hides it behind _GNU_SOURCE, so look it up.)
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") {
            typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
        } else {
            posix_spawn_file_actions_addclose(&actions, pipeDescriptors[0])
            posix_spawn_file_actions_addclose(&actions, pipeDescriptors[1])
        }

        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C"
        let cArguments = argv.map { strdup($0) } + [nil]
        let cEnvironment = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArguments.forEach { free($0) }
            cEnvironment.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, cArguments, cEnvironment)
        close(pipeDescriptors[1])
        guard spawned == 0 else {
            close(pipeDescriptors[0])
            throw LocalPostgresError(
                "cannot run \(argv.dropFirst(4).joined(separator: " ")): \(String(cString: strerror(spawned)))")
        }
        var output = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(pipeDescriptors[0], &buffer, buffer.count)
            if count > 0 { output += buffer[0..<count]; continue }
            if count < 0, errno == EINTR { continue }
            break
        }
        close(pipeDescriptors[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        // WIFEXITED / WEXITSTATUS are macros: decode the wait status by hand.
        let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (exitCode, String(decoding: output, as: UTF8.self))
    }

    static func runuser() -> String {
        for path in ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
        where FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        return "runuser"
    }

    private func shellQuote(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

public struct LocalPostgresError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// A stable (not per-process-seeded) string hash for short socket directory names.
struct FNV1a {
    var value: UInt64 = 0xcbf2_9ce4_8422_2325
    mutating func combine(_ text: String) {
        for byte in text.utf8 {
            value ^= UInt64(byte)
            value &*= 0x100_0000_01b3
        }
    }
}

extension LocalPostgres {
    /// Runs blocking work (initdb, pg_ctl, waiting on a process) on a dispatch thread, never on
    /// Swift's cooperative pool, whose two threads the rest of the process needs.
    public static func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try work() })
            }
        }
    }

    /// `start()` off the cooperative pool.
    @discardableResult
    public func startOffPool() async throws -> Bool {
        try await Self.offload { try self.start() }
    }

    /// `stop(mode:)` off the cooperative pool.
    public func stopOffPool(mode: String = "fast") async throws {
        try await Self.offload { try self.stop(mode: mode) }
    }

    /// `destroy()` off the cooperative pool.
    public func destroyOffPool() async {
        _ = try? await Self.offload { self.destroy() }
    }
}

import Foundation
import LocalPostgres
import Logging
import PQ
import PostgresNIO

// Measures PQ (our libpq wrapper) against PostgresNIO on one private PostgreSQL, in one run:
//   select_1conn   10,000 single-row SELECTs by primary key, one connection
//   insert_1conn   10,000 single-row INSERTs, one connection (autocommit)
//   select_8tasks  10,000 single-row SELECTs by 8 concurrent tasks through each library's pool of 8
// PostgresNIO runs each case twice: as most code calls it (`query`, an unnamed statement: Parse,
// Bind, Execute each time) and with a named prepared statement (`PostgresPreparedStatement`:
// prepared once per connection, then Bind and Execute), which is how PQ sends every statement.
// Each case alternates the libraries over several rounds and keeps each one's best round, so
// none gains from running later on a warm server.

let operations = Int(ProcessInfo.processInfo.environment["BENCH_OPERATIONS"] ?? "") ?? 10_000
let rounds = Int(ProcessInfo.processInfo.environment["BENCH_ROUNDS"] ?? "") ?? 3
let tableRows = 10_000
let concurrency = 8

var quiet = Logger(label: "bench")
quiet.logLevel = .error

let base = FileManager.default.temporaryDirectory.path + "/carerelay-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
// The server as shipped, except commits are not flushed to disk one by one: the INSERT case then
// measures the client libraries, not this machine's fsync.
let cluster = try LocalPostgres(directory: base + "/pg", settings: ["synchronous_commit": "off"], logger: quiet)
try cluster.start()
defer {
    cluster.destroy()
    try? FileManager.default.removeItem(atPath: base)
}

let admin = try await PQConnection.connect(PQConfiguration(cluster.conninfo()), logger: quiet)
try await admin.execute("DROP DATABASE IF EXISTS bench")
try await admin.execute("CREATE DATABASE bench")
await admin.close()

let pqConfiguration = PQConfiguration(cluster.conninfo(database: "bench"))
let setup = try await PQConnection.connect(pqConfiguration, logger: quiet)
try await setup.execute("""
    CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, score float8 NOT NULL);
    INSERT INTO items SELECT g, 'item ' || g, g * 0.5 FROM generate_series(1, \(tableRows)) g;
    CREATE TABLE inserts (id bigserial PRIMARY KEY, name text NOT NULL, score float8 NOT NULL);
    ANALYZE items;
    """)
await setup.close()

let socketPath = cluster.socketDirectory + "/.s.PGSQL.\(cluster.port)"
let nioConfiguration = PostgresConnection.Configuration(unixSocketPath: socketPath, username: "postgres", password: nil, database: "bench")

func key(_ i: Int) -> Int { (i &* 7919) % tableRows + 1 }

struct Checksum { var value = 0.0 }

// MARK: PQ

func pqSelect(_ connection: PQConnection, from: Int, count: Int) async throws -> Double {
    var sum = 0.0
    for i in from..<(from + count) {
        let rows = try await connection.query("SELECT id, name, score FROM items WHERE id = \(key(i))")
        let (_, _, score) = try rows[0].decode(Int.self, String.self, Double.self)
        sum += score
    }
    return sum
}

func pqSelectOneConnection() async throws -> Double {
    let connection = try await PQConnection.connect(pqConfiguration, logger: quiet)
    defer { Task { await connection.close() } }
    return try await pqSelect(connection, from: 0, count: operations)
}

func pqInsertOneConnection() async throws -> Double {
    let connection = try await PQConnection.connect(pqConfiguration, logger: quiet)
    defer { Task { await connection.close() } }
    for i in 0..<operations {
        try await connection.query("INSERT INTO inserts (name, score) VALUES (\("pq \(i)"), \(Double(i)))")
    }
    return Double(operations)
}

func pqSelectConcurrent(_ pool: PQPool) async throws -> Double {
    try await withThrowingTaskGroup(of: Double.self) { group in
        let share = operations / concurrency
        for task in 0..<concurrency {
            group.addTask {
                var sum = 0.0
                for i in (task * share)..<((task + 1) * share) {
                    let rows = try await pool.query("SELECT id, name, score FROM items WHERE id = \(key(i))")
                    sum += try rows[0].decode(Double.self, at: 2)
                }
                return sum
            }
        }
        return try await group.reduce(0, +)
    }
}

// MARK: PostgresNIO

func nioSelect(_ connection: PostgresConnection, from: Int, count: Int) async throws -> Double {
    var sum = 0.0
    for i in from..<(from + count) {
        let rows = try await connection.query("SELECT id, name, score FROM items WHERE id = \(key(i))", logger: quiet)
        for try await (_, _, score) in rows.decode((Int, String, Double).self) { sum += score }
    }
    return sum
}

func nioSelectOneConnection() async throws -> Double {
    let connection = try await PostgresConnection.connect(configuration: nioConfiguration, id: 1, logger: quiet)
    defer { Task { try? await connection.close() } }
    return try await nioSelect(connection, from: 0, count: operations)
}

func nioInsertOneConnection() async throws -> Double {
    let connection = try await PostgresConnection.connect(configuration: nioConfiguration, id: 2, logger: quiet)
    defer { Task { try? await connection.close() } }
    for i in 0..<operations {
        try await connection.query("INSERT INTO inserts (name, score) VALUES (\("nio \(i)"), \(Double(i)))", logger: quiet)
    }
    return Double(operations)
}

func nioSelectConcurrent(_ client: PostgresClient) async throws -> Double {
    try await withThrowingTaskGroup(of: Double.self) { group in
        let share = operations / concurrency
        for task in 0..<concurrency {
            group.addTask {
                var sum = 0.0
                for i in (task * share)..<((task + 1) * share) {
                    let rows = try await client.query("SELECT id, name, score FROM items WHERE id = \(key(i))", logger: quiet)
                    for try await (_, _, score) in rows.decode((Int, String, Double).self) { sum += score }
                }
                return sum
            }
        }
        return try await group.reduce(0, +)
    }
}

// MARK: PostgresNIO with prepared statements

struct SelectItem: PostgresPreparedStatement {
    static let sql = "SELECT id, name, score FROM items WHERE id = $1"
    typealias Row = (Int, String, Double)
    var id: Int
    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(id)
        return bindings
    }
    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

struct InsertItem: PostgresPreparedStatement {
    static let sql = "INSERT INTO inserts (name, score) VALUES ($1, $2)"
    typealias Row = ()
    var name: String
    var score: Double
    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(name)
        bindings.append(score)
        return bindings
    }
    func decodeRow(_ row: PostgresRow) throws -> Row {}
}

func nioPreparedSelectOneConnection() async throws -> Double {
    let connection = try await PostgresConnection.connect(configuration: nioConfiguration, id: 3, logger: quiet)
    defer { Task { try? await connection.close() } }
    var sum = 0.0
    for i in 0..<operations {
        for try await (_, _, score) in try await connection.execute(SelectItem(id: key(i)), logger: quiet) { sum += score }
    }
    return sum
}

func nioPreparedInsertOneConnection() async throws -> Double {
    let connection = try await PostgresConnection.connect(configuration: nioConfiguration, id: 4, logger: quiet)
    defer { Task { try? await connection.close() } }
    for i in 0..<operations {
        _ = try await connection.execute(InsertItem(name: "nio-prepared \(i)", score: Double(i)), logger: quiet)
    }
    return Double(operations)
}

func nioPreparedSelectConcurrent(_ client: PostgresClient) async throws -> Double {
    try await withThrowingTaskGroup(of: Double.self) { group in
        let share = operations / concurrency
        for task in 0..<concurrency {
            group.addTask {
                var sum = 0.0
                for i in (task * share)..<((task + 1) * share) {
                    for try await (_, _, score) in try await client.execute(SelectItem(id: key(i)), logger: quiet) { sum += score }
                }
                return sum
            }
        }
        return try await group.reduce(0, +)
    }
}

// MARK: Running

func measure(_ body: () async throws -> Double) async throws -> (opsPerSecond: Double, checksum: Double) {
    let clock = ContinuousClock()
    var checksum = 0.0
    let elapsed = try await clock.measure { checksum = try await body() }
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return (Double(operations) / seconds, checksum)
}

let pool = PQPool(configuration: pqConfiguration, options: .init(minimumConnections: concurrency, maximumConnections: concurrency), logger: quiet)
var clientConfiguration = PostgresClient.Configuration(unixSocketPath: socketPath, username: "postgres", password: nil, database: "bench")
clientConfiguration.options.minimumConnections = concurrency
clientConfiguration.options.maximumConnections = concurrency
let client = PostgresClient(configuration: clientConfiguration, backgroundLogger: quiet)
let clientRun = Task { await client.run() }
// Open every pooled connection before measuring.
_ = try await pqSelectConcurrent(pool)
_ = try await nioSelectConcurrent(client)

let cases: [(String, [() async throws -> Double])] = [
    ("select_1conn", [pqSelectOneConnection, nioSelectOneConnection, nioPreparedSelectOneConnection]),
    ("insert_1conn", [pqInsertOneConnection, nioInsertOneConnection, nioPreparedInsertOneConnection]),
    ("select_8tasks", [{ try await pqSelectConcurrent(pool) }, { try await nioSelectConcurrent(client) },
                       { try await nioPreparedSelectConcurrent(client) }]),
]

print("pq-vs-postgresnio: \(operations) operations per case, best of \(rounds) rounds (the order rotating), PostgreSQL on a Unix socket")
func padded(_ text: String, _ width: Int, left: Bool = false) -> String {
    let padding = String(repeating: " ", count: max(0, width - text.count))
    return left ? text + padding : padding + text
}
print(padded("case", 14, left: true) + padded("PQ ops/s", 11) + padded("NIO ops/s", 11) + padded("NIO-prep", 11)
    + padded("PQ/NIO", 8) + padded("PQ/prep", 9))
var results: [(String, Double, Double)] = []
for (name, runs) in cases {
    var best = [Double](repeating: 0, count: runs.count)
    for round in 0..<rounds {
        // Rotate who goes first.
        var checksums: [Double] = []
        for step in 0..<runs.count {
            let which = (step + round) % runs.count
            let result = try await measure(runs[which])
            checksums.append(result.checksum)
            best[which] = max(best[which], result.opsPerSecond)
        }
        precondition(Set(checksums).count == 1, "the libraries read different data")
    }
    print(padded(name, 14, left: true) + padded(String(format: "%.0f", best[0]), 11) + padded(String(format: "%.0f", best[1]), 11)
        + padded(String(format: "%.0f", best[2]), 11) + padded(String(format: "%.2f", best[0] / best[1]), 8)
        + padded(String(format: "%.2f", best[0] / best[2]), 9))
    results.append((name, best[0] / best[1], best[0] / best[2]))
}

await pool.close()
clientRun.cancel()
for (name, ratio, prepared) in results {
    print("RESULT ratio_\(name) " + String(format: "%.3f", ratio))
    print("RESULT ratio_prepared_\(name) " + String(format: "%.3f", prepared))
}

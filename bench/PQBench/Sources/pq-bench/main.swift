import Foundation
import LocalPostgres
import Logging
import PQ
import PostgresNIO

// Measures PQ (our libpq wrapper) against PostgresNIO on one private PostgreSQL, in one run:
//   select_1conn   10,000 single-row SELECTs by primary key, one connection
//   insert_1conn   10,000 single-row INSERTs, one connection (autocommit)
//   select_8tasks  10,000 single-row SELECTs by 8 concurrent tasks through each library's pool of 8
// Each case alternates the two libraries over several rounds and keeps each one's best round,
// so neither gains from running second on a warm server.

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

let cases: [(String, () async throws -> Double, () async throws -> Double)] = [
    ("select_1conn", pqSelectOneConnection, nioSelectOneConnection),
    ("insert_1conn", pqInsertOneConnection, nioInsertOneConnection),
    ("select_8tasks", { try await pqSelectConcurrent(pool) }, { try await nioSelectConcurrent(client) }),
]

print("pq-vs-postgresnio: \(operations) operations per case, best of \(rounds) alternating rounds, PostgreSQL on a Unix socket")
func padded(_ text: String, _ width: Int, left: Bool = false) -> String {
    let padding = String(repeating: " ", count: max(0, width - text.count))
    return left ? text + padding : padding + text
}
print(padded("case", 14, left: true) + padded("PQ ops/s", 12) + padded("NIO ops/s", 12) + padded("PQ/NIO", 8))
var results: [(String, Double)] = []
for (name, pqCase, nioCase) in cases {
    var bestPQ = 0.0
    var bestNIO = 0.0
    for round in 0..<rounds {
        // Alternate who goes first.
        if round % 2 == 0 {
            let pq = try await measure(pqCase)
            let nio = try await measure(nioCase)
            precondition(pq.checksum == nio.checksum, "the two libraries read different data")
            bestPQ = max(bestPQ, pq.opsPerSecond)
            bestNIO = max(bestNIO, nio.opsPerSecond)
        } else {
            let nio = try await measure(nioCase)
            let pq = try await measure(pqCase)
            precondition(pq.checksum == nio.checksum, "the two libraries read different data")
            bestPQ = max(bestPQ, pq.opsPerSecond)
            bestNIO = max(bestNIO, nio.opsPerSecond)
        }
    }
    print(padded(name, 14, left: true) + padded(String(format: "%.0f", bestPQ), 12)
        + padded(String(format: "%.0f", bestNIO), 12) + padded(String(format: "%.2f", bestPQ / bestNIO), 8))
    results.append((name, bestPQ / bestNIO))
}

await pool.close()
clientRun.cancel()
for (name, ratio) in results {
    print("RESULT ratio_\(name) " + String(format: "%.3f", ratio))
}

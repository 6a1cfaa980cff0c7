// The least an HTTP server built as care-server is (Hummingbird, PQ's pool, a connection's
// statements on its own executor) could do for a benchmark's request: send the statements
// pgbench sends for it, in the same pipelines (a pgbench script: bench/fhir's captured from
// care-server, bench/api-vs-pgbench's queue.sql and outcome.sql), prepared once per connection
// with the variables as parameters as `pgbench -M prepared` does, read nothing of their rows, and
// answer bytes care-server answered. No token checked, no permission gate, no statement built,
// no row decoded, no JSON read or written, no log, no middleware. If this server cannot reach a
// ratio against pgbench on this box, no server built on this stack can.
//
// Usage: thin-server PORT CONNINFO POOL_SIZE [-D name=value]... [-S name=start]...
//                    METHOD PATH SCRIPT BODY [METHOD PATH SCRIPT BODY ...]
// A request of METHOD (GET or POST) for PATH (the query string ignored; a `*` segment matches any
// one segment) runs SCRIPT and answers BODY (application/fhir+json under /fhir, else
// application/json). `-D` gives a script variable a value; `-S` makes one a counter that every
// request takes the next value of (start + 1, start + 2, ...), for a script whose `\set` lines
// pick a fresh row for each transaction (those lines are skipped: the counter does their work).
import Foundation
import Hummingbird
import Logging
import NIOCore
import PQ
import Synchronization

struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One statement: its text with `$n` for the script's variables, and their names in that order.
struct Statement: Sendable {
    var sql: String
    var variables: [String]

    /// pgbench's `:name` (not a `::` cast) for each variable named in `known`.
    init(_ text: String, known: Set<String>) {
        var sql = ""
        var variables: [String] = []
        var rest = Substring(text)
        while let colon = rest.firstIndex(of: ":") {
            sql += rest[..<colon]
            let after = rest[rest.index(after: colon)...]
            if after.first == ":" {
                sql += "::"
                rest = after.dropFirst()
                continue
            }
            let name = after.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
            if !name.isEmpty, known.contains(String(name)) {
                if let index = variables.firstIndex(of: String(name)) {
                    sql += "$\(index + 1)"
                } else {
                    variables.append(String(name))
                    sql += "$\(variables.count)"
                }
                rest = after.dropFirst(name.count)
            } else {
                sql += ":"
                rest = after
            }
        }
        sql += rest
        self.sql = sql
        self.variables = variables
    }
}

/// One kind of request: where it is routed, its statements a pipeline (one round trip) each,
/// and its answer.
struct Work: Sendable {
    var method: String
    var path: [Substring]
    var pipelines: [[Statement]]
    var body: ByteBuffer
    var contentType: String

    func matches(_ method: String, _ path: String) -> Bool {
        let segments = path.split(separator: "/")
        return method == self.method && segments.count == self.path.count
            && zip(segments, self.path).allSatisfy { $1 == "*" || $0 == $1 }
    }

    /// The pipelines of a pgbench script: `\startpipeline`, statements each ending with `;` at the
    /// end of a line, `\endpipeline`; `--` comments and `\set` lines between them.
    static func pipelines(of script: String, known: Set<String>) throws -> [[Statement]] {
        var pipelines: [[Statement]] = []
        var current: [Statement]?
        var statement: [Substring] = []
        for line in script.split(separator: "\n", omittingEmptySubsequences: false) {
            if statement.isEmpty,
                line.hasPrefix("--") || line.hasPrefix("\\set ") || line.allSatisfy(\.isWhitespace)
            {
                continue
            }
            if line == "\\startpipeline" {
                current = []
            } else if line == "\\endpipeline" {
                guard let finished = current, !finished.isEmpty, statement.isEmpty else {
                    throw Failure("an empty or unfinished pipeline in the script")
                }
                pipelines.append(finished)
                current = nil
            } else {
                guard current != nil else { throw Failure("a statement outside a pipeline: \(line)") }
                statement.append(line)
                if line.hasSuffix(";") {
                    current?.append(Statement(String(statement.joined(separator: "\n").dropLast()), known: known))
                    statement = []
                }
            }
        }
        guard !pipelines.isEmpty, current == nil else { throw Failure("no complete pipeline in the script") }
        return pipelines
    }
}

/// Sends every pipeline, each in one round trip, on a connection this request has to itself.
func run(_ pipelines: [[Statement]], values: @Sendable (String) -> String, on connection: isolated PQConnection)
    async throws
{
    for pipeline in pipelines {
        for (index, statement) in pipeline.enumerated() {
            let query = PQQuery(statement.sql, statement.variables.map(values))
            if index < pipeline.count - 1 {
                connection.sendWithNext(query)
            } else {
                try await connection.query(query)
            }
        }
    }
}

var arguments = Array(CommandLine.arguments.dropFirst())
func usage() -> Never {
    let text = """
        usage: thin-server PORT CONNINFO POOL_SIZE [-D name=value]... [-S name=start]... \
        METHOD PATH SCRIPT BODY ...

        """
    FileHandle.standardError.write(Data(text.utf8))
    exit(64)
}
guard arguments.count >= 7, let port = Int(arguments[0]), let poolSize = Int(arguments[2]) else { usage() }
let conninfo = arguments[1]
arguments.removeFirst(3)
var constants: [String: String] = [:]
var counterStarts: [String: Int] = [:]
while let flag = arguments.first, flag == "-D" || flag == "-S" {
    guard arguments.count >= 2, let equals = arguments[1].firstIndex(of: "=") else { usage() }
    let name = String(arguments[1][..<equals])
    let value = String(arguments[1][arguments[1].index(after: equals)...])
    if flag == "-D" {
        constants[name] = value
    } else {
        guard let start = Int(value) else { usage() }
        counterStarts[name] = start
    }
    arguments.removeFirst(2)
}
guard !arguments.isEmpty, arguments.count % 4 == 0, counterStarts.count <= 1 else { usage() }
let known = Set(constants.keys).union(counterStarts.keys)
var routes: [Work] = []
for index in stride(from: 0, to: arguments.count, by: 4) {
    let path = arguments[index + 1]
    let script = try String(contentsOfFile: arguments[index + 2], encoding: .utf8)
    let body = try Data(contentsOf: URL(fileURLWithPath: arguments[index + 3]))
    routes.append(
        Work(
            method: arguments[index], path: path.split(separator: "/"),
            pipelines: try Work.pipelines(of: script, known: known), body: ByteBuffer(bytes: body),
            contentType: path.hasPrefix("/fhir/") ? "application/fhir+json" : "application/json"))
}
let works = routes
let fixed = constants
let counterName = counterStarts.first?.key
let counter = Atomic<Int>(counterStarts.first?.value ?? 0)

var logger = Logger(label: "thin-server")
logger.logLevel = .warning
let pool = PQPool(
    configuration: PQConfiguration(conninfo, applicationName: "thin-server"),
    options: .init(minimumConnections: 1, maximumConnections: poolSize), logger: logger)

@Sendable func respond(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
    let method = request.method.rawValue
    guard let work = works.first(where: { $0.matches(method, request.uri.path) }) else {
        return Response(status: .notFound)
    }
    _ = try await request.body.collect(upTo: 1 << 20)
    let next = counterName == nil ? 0 : counter.add(1, ordering: .relaxed).newValue
    let values: @Sendable (String) -> String = { name in name == counterName ? String(next) : fixed[name] ?? "" }
    try await pool.withIsolatedConnection { connection in try await run(work.pipelines, values: values, on: connection)
    }
    return Response(status: .ok, headers: [.contentType: work.contentType], body: .init(byteBuffer: work.body))
}
let router = Router()
router.get("**", use: respond)
router.post("**", use: respond)
let app = Application(
    router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), services: [pool],
    logger: logger)
try await app.runService()

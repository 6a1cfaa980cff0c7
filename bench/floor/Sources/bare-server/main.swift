// A Hummingbird server with one route, GET /health, answering {"status":"ok"} as care-server's
// does, with no middleware, no logging and no database: the least a Hummingbird request costs
// on this box. Usage: bare-server PORT
import Hummingbird
import Logging

struct Health: ResponseEncodable {
    var status: String
}

let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 8080 : 8080
let router = Router()
router.get("/health") { _, _ in Health(status: "ok") }
var logger = Logger(label: "bare-server")
logger.logLevel = .warning
let app = Application(
    router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
try await app.runService()

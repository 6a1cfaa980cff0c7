import ArgumentParser
import AsyncHTTPClient

extension CareServerCommand {
    /// A health check for engines that run one inside the container (compose): the image has
    /// no curl.
    struct Probe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask a running care-server whether it is healthy (exit 0) or not (exit 1).",
            discussion: """
                Examples:
                  care-server probe                  # GET http://127.0.0.1:8080/health
                  care-server probe --ready          # GET /ready: the database answers, the schema is current
                """)

        @Option(help: "The server's port on this host.")
        var port = 8080

        @Flag(help: "Ask /ready instead of /health.")
        var ready = false

        @Option(help: "Seconds to wait for the answer.")
        var timeout = 3

        func run() async throws {
            let url = "http://127.0.0.1:\(port)/\(ready ? "ready" : "health")"
            let answer: HTTPClientResponse
            do {
                answer = try await HTTPClient.shared.execute(
                    HTTPClientRequest(url: url), timeout: .seconds(Int64(timeout)))
            } catch {
                throw ServerError("\(url): no answer (\(error))")
            }
            guard answer.status == .ok else { throw ServerError("\(url) answered \(answer.status.code)") }
            print("\(url): \(answer.status.code)")
        }
    }
}

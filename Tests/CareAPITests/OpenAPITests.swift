import CareAPI
import CareStore
import Foundation
import Hummingbird
import HummingbirdTesting
import PQ
import Testing
import TestSupport

@Suite("The OpenAPI document and the router cannot drift", .timeLimit(.minutes(2)))
struct OpenAPITests {
    func document() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8)) as? [String: Any])
    }

    @Test("every route of the router is in the document, and every operation of the document is a route")
    func sameRoutes() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let router = buildRouter(
                CareAPIDependencies(
                    store: CareStore(pool: pool, logger: testLogger()),
                    migrator: try Migrator(migrations: Migration.embedded())))
            let served = Set(
                router.routes.map { "\($0.method.rawValue) \($0.path.description)" }
                    .filter { $0.contains(" /v1") })
            let paths = try #require(try document()["paths"] as? [String: [String: Any]])
            var documented: Set<String> = []
            for (path, operations) in paths {
                for method in operations.keys where ["get", "post", "put", "patch", "delete"].contains(method) {
                    documented.insert("\(method.uppercased()) \(path)")
                }
            }
            #expect(
                served.subtracting(documented).isEmpty,
                "routes missing from the document: \(served.subtracting(documented).sorted())")
            #expect(
                documented.subtracting(served).isEmpty,
                "documented operations with no route: \(documented.subtracting(served).sorted())")
            #expect(served.count > 30)
        }
    }

    @Test(
        """
        the document is OpenAPI 3.1, every $ref resolves, every POST takes an Idempotency-Key, and it is served at \
        /openapi.json
        """
    )
    func wellFormed() async throws {
        let doc = try document()
        #expect(doc["openapi"] as? String == "3.1.0")
        let text = OpenAPIDocument.json
        let components = try #require(doc["components"] as? [String: [String: Any]])
        let refs = text.matches(of: /"\$ref": "#\/components\/(\w+)\/(\w+)"/).map {
            (String($0.output.1), String($0.output.2))
        }
        #expect(!refs.isEmpty)
        for (section, name) in refs {
            #expect(components[section]?[name] != nil, "unresolved $ref \(section)/\(name)")
        }
        let paths = try #require(doc["paths"] as? [String: [String: Any]])
        for (path, operations) in paths {
            guard let post = operations["post"] as? [String: Any] else { continue }
            let parameters = post["parameters"] as? [[String: Any]] ?? []
            #expect(parameters.contains { $0["name"] as? String == "Idempotency-Key" }, "POST \(path)")
        }
        try await MigratedDatabase.withPool { pool, _ in
            let app = buildApplication(
                CareAPIDependencies(
                    store: CareStore(pool: pool, logger: testLogger()),
                    migrator: try Migrator(migrations: Migration.embedded())),
                host: "127.0.0.1", port: 0, logger: testLogger())
            try await app.test(.router) { client in
                let response = try await client.execute(uri: "/openapi.json", method: .get)
                #expect(response.status == .ok && response.headers[.contentType] == "application/json")
                #expect(String(buffer: response.body) == text)
            }
        }
    }
}

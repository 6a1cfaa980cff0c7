import Foundation
import Hummingbird

/// GET /openapi.json: the OpenAPI 3.1 document of the API, docs/openapi.json compiled into the
/// binary. A test holds it and the router to the same routes; schemathesis in CI holds the
/// server's answers to its schemas.
public enum OpenAPIDocument {
    public static var json: String {
        embeddedDocuments.first { $0.name == "openapi.json" }?.sql ?? "{}"
    }
}

struct OpenAPIController: Sendable {
    func addRoutes(to router: Router<CareRequestContext>) {
        let body = ByteBuffer(string: OpenAPIDocument.json)
        router.get("/openapi.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-cache"],
                body: .init(byteBuffer: body))
        }
    }
}

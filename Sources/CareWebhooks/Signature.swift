import Crypto
import Foundation

/// Signing per the Standard Webhooks specification: the headers webhook-id, webhook-timestamp
/// (Unix seconds) and webhook-signature, which holds `v1,<base64 HMAC-SHA256>` for each secret
/// in use, separated by spaces, over `<id>.<timestamp>.<body>`, keyed by the base64-decoded part
/// of the `whsec_` secret.
public enum WebhookSignature {
    public static func sign(id: String, timestamp: Int, body: Data, secrets: [String]) -> String {
        secrets.compactMap { secret -> String? in
            guard let key = WebhookSecretKey(secret) else { return nil }
            var message = Data("\(id).\(timestamp).".utf8)
            message.append(body)
            let mac = HMAC<SHA256>.authenticationCode(for: message, using: key.key)
            return "v1," + Data(mac).base64EncodedString()
        }.joined(separator: " ")
    }
}

struct WebhookSecretKey {
    let key: SymmetricKey

    init?(_ secret: String) {
        guard secret.hasPrefix("whsec_"), let bytes = Data(base64Encoded: String(secret.dropFirst(6))), !bytes.isEmpty
        else { return nil }
        key = SymmetricKey(data: bytes)
    }
}

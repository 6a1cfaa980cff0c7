import CoreFormats
import Foundation

// MARK: - UUID

extension UUID: PQEncodable, PQDecodable {
    public func pqEncode() throws -> String? { lowercasedString }
    public static func pqAccepts(_ oid: UInt32) -> Bool { oid == PQType.uuid }
    public static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> UUID {
        guard let uuid = UUID(hyphenated: bytes) else {
            throw PQDecodingFailure("is not a UUID")
        }
        return uuid
    }
}

import CoreFormats
import Foundation

// MARK: - UUID

extension UUID: PQEncodable, PQDecodable {
    public func pqEncode() throws -> String? { lowercasedString }
    public static var pqAcceptedTypes: Set<UInt32>? { [PQType.uuid] }
    public static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> UUID {
        guard let uuid = UUID(hyphenated: bytes) else {
            throw PQDecodingFailure("is not a UUID")
        }
        return uuid
    }
}

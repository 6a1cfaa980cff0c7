import CoreFormats
import Foundation

// MARK: - Date (timestamptz)

extension Date: PQEncodable, PQDecodable {
    public func pqEncode() throws -> String? {
        if self == .distantFuture { return "infinity" }
        if self == .distantPast { return "-infinity" }
        return Timestamp.format(self)
    }
    public static var pqAcceptedTypes: Set<UInt32>? { [PQType.timestamptz, PQType.timestamp, PQType.date] }
    public static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> Date {
        guard let date = Timestamp.parse(bytes) else {
            throw PQDecodingFailure("is not an ISO timestamp (is DateStyle ISO?)")
        }
        return date
    }
}

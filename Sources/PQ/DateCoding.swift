import CoreFormats
import Foundation

// MARK: - Date (timestamptz)

extension Date: PQEncodable, PQDecodable {
    public func pqEncode() throws -> String? {
        if self == .distantFuture { return "infinity" }
        if self == .distantPast { return "-infinity" }
        return Timestamp.format(self)
    }
    public static func pqAccepts(_ oid: UInt32) -> Bool {
        oid == PQType.timestamptz || oid == PQType.timestamp || oid == PQType.date
    }
    public static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> Date {
        guard let date = Timestamp.parse(bytes) else {
            throw PQDecodingFailure("is not an ISO timestamp (is DateStyle ISO?)")
        }
        return date
    }
}

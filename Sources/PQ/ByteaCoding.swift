import CoreFormats
import Foundation

// MARK: - Data (bytea)

extension Data: PQEncodable, PQDecodable {
    public func pqEncode() throws -> String? {
        var bytes = [UInt8]()
        bytes.reserveCapacity(2 + count * 2)
        bytes.append(UInt8(ascii: "\\"))
        bytes.append(UInt8(ascii: "x"))
        Hex.encode(self, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
    public static func pqAccepts(_ oid: UInt32) -> Bool { oid == PQType.bytea }
    public static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> Data {
        // bytea_output = hex (the default since PostgreSQL 9.0): \x followed by two digits a byte.
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "\\"), bytes[1] == UInt8(ascii: "x"),
            bytes.count % 2 == 0
        else {
            throw PQDecodingFailure("is not bytea in hex format")
        }
        guard let decoded = Hex.decode(UnsafeRawBufferPointer(rebasing: bytes[2...])) else {
            throw PQDecodingFailure("is not bytea in hex format")
        }
        return Data(decoded)
    }
}

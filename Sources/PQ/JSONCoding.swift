import CoreFormats
import Foundation

// MARK: - JSON (jsonb through Codable)

/// A Codable value stored as json or jsonb.
public struct PQJSON<Value: Codable & Sendable>: PQEncodable, PQDecodable {
    public var value: Value
    public init(_ value: Value) { self.value = value }

    public func pqEncode() throws -> String? {
        // Event payloads are string dictionaries, one or more in every write: written by hand.
        if Value.self == [String: String].self {
            return JSONText.object(unsafeBitCast(value, to: [String: String].self))
        }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            throw PQError(.encoding, "cannot encode \(Value.self) as JSON: \(error)")
        }
    }
    /// JSON, or text (a user-defined type, oid 16384 and up, is read by its text too).
    public static func pqAccepts(_ oid: UInt32) -> Bool {
        oid == PQType.json || oid == PQType.jsonb || oid == PQType.text || oid >= PQType.firstUserDefined
    }
    public static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> PQJSON<
        Value
    > {
        do {
            return PQJSON(try jsonColumnDecoder.decode(Value.self, from: Data(bytes)))
        } catch {
            throw PQDecodingFailure("is not JSON for \(Value.self): \(error)")
        }
    }
}

extension PQJSON: Equatable where Value: Equatable {}

/// One decoder for every json column (making one per value cost more than the decoding). Dates
/// are the ISO 8601 `PQJSON` writes (2026-08-19T00:00:00Z), read by hand like PostgreSQL's
/// timestamps, with Foundation's ISO 8601 parser for any other form.
private let jsonColumnDecoder: JSONDecoder = {
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .custom { decoder in
        let container = try decoder.singleValueContainer()
        var text = try container.decode(String.self)
        if let date = text.withUTF8({ Timestamp.parse(UnsafeRawBufferPointer($0)) }) { return date }
        return try Date(text, strategy: .iso8601)
    }
    return decoder
}()

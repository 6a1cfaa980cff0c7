import CLibPQ
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A value that can be bound as a statement parameter. Parameters travel in libpq's text format;
/// `nil` is SQL NULL.
public protocol PQEncodable: Sendable {
    func pqEncode() throws -> String?
}

/// A value that can be read from a result column (text format).
public protocol PQDecodable: Sendable {
    /// Whether a column of type `oid` decodes as this Swift type. Asked for every value read, so
    /// a comparison or a switch, not a set built on each call (that was 3% of care-server's CPU
    /// for a read of 50 tasks, BENCHMARKS.md, session 16).
    static func pqAccepts(_ oid: UInt32) -> Bool
    /// Decodes a non-NULL value.
    static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> Self
    /// Decodes SQL NULL; non-optional types refuse it.
    static func pqDecodeNull() throws(PQDecodingFailure) -> Self
}

extension PQDecodable {
    public static func pqDecodeNull() throws(PQDecodingFailure) -> Self {
        throw PQDecodingFailure("is NULL; decode it as an Optional")
    }
}

/// Why a single value did not decode; the row turns it into a `PQError` naming the column.
public struct PQDecodingFailure: Error, Sendable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
}

/// The PostgreSQL type OIDs this layer knows by name.
public enum PQType {
    public static let bool: UInt32 = 16
    public static let bytea: UInt32 = 17
    public static let char: UInt32 = 18
    public static let name: UInt32 = 19
    public static let int8: UInt32 = 20
    public static let int2: UInt32 = 21
    public static let int4: UInt32 = 23
    public static let text: UInt32 = 25
    public static let oid: UInt32 = 26
    public static let json: UInt32 = 114
    public static let xid8: UInt32 = 5069
    public static let float4: UInt32 = 700
    public static let float8: UInt32 = 701
    public static let unknown: UInt32 = 705
    public static let bpchar: UInt32 = 1042
    public static let varchar: UInt32 = 1043
    public static let date: UInt32 = 1082
    public static let timestamp: UInt32 = 1114
    public static let timestamptz: UInt32 = 1184
    public static let numeric: UInt32 = 1700
    public static let uuid: UInt32 = 2950
    public static let jsonb: UInt32 = 3802
    /// The first oid PostgreSQL gives a user-defined type (an enum, a domain).
    public static let firstUserDefined: UInt32 = 16384

    /// Array type OID -> element type OID.
    public static let arrayElements: [UInt32: UInt32] = [
        1000: bool, 1001: bytea, 1002: char, 1003: name, 1016: int8, 1005: int2, 1007: int4,
        1009: text, 1028: oid, 199: json, 1021: float4, 1022: float8, 1014: bpchar, 1015: varchar,
        1182: date, 1115: timestamp, 1185: timestamptz, 1231: numeric, 2951: uuid, 3807: jsonb,
    ]

    static func name(of oid: UInt32) -> String {
        switch oid {
        case bool: "boolean"
        case bytea: "bytea"
        case char: "\"char\""
        case name: "name"
        case int8: "bigint"
        case int2: "smallint"
        case int4: "integer"
        case text: "text"
        case oid: "oid"
        case json: "json"
        case xid8: "xid8"
        case float4: "real"
        case float8: "double precision"
        case unknown: "unknown"
        case bpchar: "character"
        case varchar: "character varying"
        case date: "date"
        case timestamp: "timestamp"
        case timestamptz: "timestamptz"
        case numeric: "numeric"
        case uuid: "uuid"
        case jsonb: "jsonb"
        default: arrayElements[oid].map { self.name(of: $0) + "[]" } ?? "type oid \(oid)"
        }
    }

    /// Types whose text form is just text. Enums and domains have OIDs of their own
    /// (>= 16384) and read as text too.
    static let textual: Set<UInt32> = [text, varchar, bpchar, name, char, unknown]
}

// MARK: - Optional

extension Optional: PQEncodable where Wrapped: PQEncodable {
    public func pqEncode() throws -> String? {
        switch self {
        case .none: nil
        case .some(let value): try value.pqEncode()
        }
    }
}

extension Optional: PQDecodable where Wrapped: PQDecodable {
    public static func pqAccepts(_ oid: UInt32) -> Bool { Wrapped.pqAccepts(oid) }
    public static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> Self {
        try Wrapped.pqDecode(bytes, type: type)
    }
    public static func pqDecodeNull() throws(PQDecodingFailure) -> Self { nil }
}

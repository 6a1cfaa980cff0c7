import Foundation

// MARK: - Text

extension String: PQEncodable, PQDecodable {
    public func pqEncode() throws -> String? {
        // libpq passes text parameters as C strings: a NUL would silently cut the value short.
        if utf8.contains(0) {
            throw PQError(.encoding, "text contains a NUL character, which PostgreSQL cannot store")
        }
        return self
    }
    /// Any column reads as its text.
    public static func pqAccepts(_ oid: UInt32) -> Bool { true }
    public static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}

extension Substring: PQEncodable {
    public func pqEncode() throws -> String? { try String(self).pqEncode() }
}

// MARK: - Integers

private func parseInteger<T: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, as _: T.Type) throws(PQDecodingFailure)
    -> T
{
    var index = 0
    var negative = false
    if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
        negative = first == UInt8(ascii: "-")
        index = 1
    }
    guard index < bytes.count else { throw PQDecodingFailure("is not an integer") }
    var value: T = 0
    while index < bytes.count {
        let digit = bytes[index] &- UInt8(ascii: "0")
        guard digit < 10 else { throw PQDecodingFailure("is not an integer") }
        let (m, o1) = value.multipliedReportingOverflow(by: 10)
        let (s, o2) = negative ? m.subtractingReportingOverflow(T(digit)) : m.addingReportingOverflow(T(digit))
        guard !o1, !o2 else { throw PQDecodingFailure("does not fit in \(T.self)") }
        value = s
        index += 1
    }
    return value
}

private func isInteger(_ oid: UInt32) -> Bool {
    switch oid {
    case PQType.int2, PQType.int4, PQType.int8, PQType.oid, PQType.xid8: true
    default: false
    }
}

extension Int: PQEncodable, PQDecodable {
    public func pqEncode() throws -> String? { String(self) }
    public static func pqAccepts(_ oid: UInt32) -> Bool { isInteger(oid) }
    public static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> Int {
        try parseInteger(bytes, as: Int.self)
    }
}

extension Int64: PQEncodable, PQDecodable {
    public func pqEncode() throws -> String? { String(self) }
    public static func pqAccepts(_ oid: UInt32) -> Bool { isInteger(oid) }
    public static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> Int64 {
        try parseInteger(bytes, as: Int64.self)
    }
}

extension Int32: PQEncodable, PQDecodable {
    public func pqEncode() throws -> String? { String(self) }
    public static func pqAccepts(_ oid: UInt32) -> Bool { isInteger(oid) }
    public static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> Int32 {
        try parseInteger(bytes, as: Int32.self)
    }
}

// MARK: - Double, Bool

extension Double: PQEncodable, PQDecodable {
    public func pqEncode() throws -> String? {
        if isNaN { return "NaN" }
        if isInfinite { return self < 0 ? "-Infinity" : "Infinity" }
        return description  // shortest text that reads back to the same Double
    }
    public static func pqAccepts(_ oid: UInt32) -> Bool {
        switch oid {
        case PQType.float4, PQType.float8, PQType.numeric, PQType.int2, PQType.int4, PQType.int8: true
        default: false
        }
    }
    public static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> Double {
        let text = String(decoding: bytes, as: UTF8.self)
        switch text {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default:
            guard let value = Double(text) else { throw PQDecodingFailure("is not a number") }
            return value
        }
    }
}

extension Bool: PQEncodable, PQDecodable {
    public func pqEncode() throws -> String? { self ? "t" : "f" }
    public static func pqAccepts(_ oid: UInt32) -> Bool { oid == PQType.bool }
    public static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> Bool {
        switch bytes.first {
        case UInt8(ascii: "t"): return true
        case UInt8(ascii: "f"): return false
        default: throw PQDecodingFailure("is not a boolean")
        }
    }
}

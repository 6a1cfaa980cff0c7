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
    /// Type OIDs this Swift type accepts; `nil` accepts any column type.
    static var pqAcceptedTypes: Set<UInt32>? { get }
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
    public static var pqAcceptedTypes: Set<UInt32>? { Wrapped.pqAcceptedTypes }
    public static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> Self {
        try Wrapped.pqDecode(bytes, type: type)
    }
    public static func pqDecodeNull() throws(PQDecodingFailure) -> Self { nil }
}

// MARK: - Text

extension String: PQEncodable, PQDecodable {
    public func pqEncode() throws -> String? {
        // libpq passes text parameters as C strings: a NUL would silently cut the value short.
        if utf8.contains(0) {
            throw PQError(.encoding, "text contains a NUL character, which PostgreSQL cannot store")
        }
        return self
    }
    public static var pqAcceptedTypes: Set<UInt32>? { nil }
    public static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}

extension Substring: PQEncodable {
    public func pqEncode() throws -> String? { try String(self).pqEncode() }
}

// MARK: - Integers

private func parseInteger<T: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, as _: T.Type) throws(PQDecodingFailure) -> T {
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

private let integerTypes: Set<UInt32> = [PQType.int2, PQType.int4, PQType.int8, PQType.oid, PQType.xid8]

extension Int: PQEncodable, PQDecodable {
    public func pqEncode() throws -> String? { String(self) }
    public static var pqAcceptedTypes: Set<UInt32>? { integerTypes }
    public static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> Int {
        try parseInteger(bytes, as: Int.self)
    }
}

extension Int64: PQEncodable, PQDecodable {
    public func pqEncode() throws -> String? { String(self) }
    public static var pqAcceptedTypes: Set<UInt32>? { integerTypes }
    public static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> Int64 {
        try parseInteger(bytes, as: Int64.self)
    }
}

extension Int32: PQEncodable, PQDecodable {
    public func pqEncode() throws -> String? { String(self) }
    public static var pqAcceptedTypes: Set<UInt32>? { integerTypes }
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
    public static var pqAcceptedTypes: Set<UInt32>? {
        [PQType.float4, PQType.float8, PQType.numeric, PQType.int2, PQType.int4, PQType.int8]
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
    public static var pqAcceptedTypes: Set<UInt32>? { [PQType.bool] }
    public static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> Bool {
        switch bytes.first {
        case UInt8(ascii: "t"): return true
        case UInt8(ascii: "f"): return false
        default: throw PQDecodingFailure("is not a boolean")
        }
    }
}

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

extension UUID {
    /// 8-4-4-4-12 lower-case hex, as PostgreSQL writes a uuid. Written by hand: `uuidString`
    /// goes through `uuid_unparse` and sprintf, and ids are formatted for every statement and
    /// every answer.
    public var lowercasedString: String {
        withUnsafeBytes(of: uuid) { raw in
            String(unsafeUninitializedCapacity: 36) { buffer in
                var at = 0
                for (index, byte) in raw.enumerated() {
                    if index == 4 || index == 6 || index == 8 || index == 10 { buffer[at] = UInt8(ascii: "-"); at += 1 }
                    buffer[at] = hexDigits[Int(byte >> 4)]
                    buffer[at + 1] = hexDigits[Int(byte & 0x0F)]
                    at += 2
                }
                return at
            }
        }
    }

    /// Reads the 8-4-4-4-12 hex form (either case); nil for anything else.
    public init?(hyphenated bytes: UnsafeRawBufferPointer) {
        guard bytes.count == 36 else { return nil }
        var value: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let parsed = withUnsafeMutableBytes(of: &value) { out -> Bool in
            var at = 0
            for index in 0..<16 {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    guard bytes[at] == UInt8(ascii: "-") else { return false }
                    at += 1
                }
                guard let high = hexValue(bytes[at]), let low = hexValue(bytes[at + 1]) else { return false }
                out[index] = high << 4 | low
                at += 2
            }
            return true
        }
        guard parsed else { return nil }
        self.init(uuid: value)
    }

    /// A random (version 4) UUID from one getrandom(2) call. Foundation's `UUID()` on Linux
    /// opens, reads and closes /dev/urandom for every id: three system calls and a file
    /// descriptor, seven times for each recorded outcome (its handoffs, tasks and request id).
    public static func random() -> UUID {
        var value: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &value) { bytes in
            #if canImport(Glibc)
            var filled = 0
            while filled < 16 {
                let got = cpq_getrandom(bytes.baseAddress! + filled, UInt(16 - filled))
                if got > 0 { filled += Int(got) } else if errno != EINTR { fatalError("getrandom failed: errno \(errno)") }
            }
            #else
            arc4random_buf(bytes.baseAddress!, 16)
            #endif
            bytes[6] = bytes[6] & 0x0F | 0x40  // version 4
            bytes[8] = bytes[8] & 0x3F | 0x80  // RFC 9562 variant
        }
        return UUID(uuid: value)
    }

    /// `init(hyphenated:)` for text.
    public init?(hyphenated text: some StringProtocol) {
        var text = String(text)
        guard let uuid = text.withUTF8({ UUID(hyphenated: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = uuid
    }
}

private func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
    default: nil
    }
}

// MARK: - Data (bytea)

private let hexDigits = Array("0123456789abcdef".utf8)

extension Data: PQEncodable, PQDecodable {
    public func pqEncode() throws -> String? {
        var bytes = [UInt8]()
        bytes.reserveCapacity(2 + count * 2)
        bytes.append(UInt8(ascii: "\\"))
        bytes.append(UInt8(ascii: "x"))
        for byte in self {
            bytes.append(hexDigits[Int(byte >> 4)])
            bytes.append(hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
    public static var pqAcceptedTypes: Set<UInt32>? { [PQType.bytea] }
    public static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> Data {
        // bytea_output = hex (the default since PostgreSQL 9.0): \x followed by two digits a byte.
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "\\"), bytes[1] == UInt8(ascii: "x"),
              bytes.count % 2 == 0 else {
            throw PQDecodingFailure("is not bytea in hex format")
        }
        func nibble(_ c: UInt8) throws(PQDecodingFailure) -> UInt8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: throw PQDecodingFailure("is not bytea in hex format")
            }
        }
        var data = Data(capacity: (bytes.count - 2) / 2)
        var index = 2
        while index < bytes.count {
            data.append(try nibble(bytes[index]) << 4 | nibble(bytes[index + 1]))
            index += 2
        }
        return data
    }
}

// MARK: - Date (timestamptz)

extension Date: PQEncodable, PQDecodable {
    public func pqEncode() throws -> String? {
        if self == .distantFuture { return "infinity" }
        if self == .distantPast { return "-infinity" }
        return PQTimestamp.format(self)
    }
    public static var pqAcceptedTypes: Set<UInt32>? { [PQType.timestamptz, PQType.timestamp, PQType.date] }
    public static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> Date {
        guard let date = PQTimestamp.parse(bytes) else {
            throw PQDecodingFailure("is not an ISO timestamp (is DateStyle ISO?)")
        }
        return date
    }
}

/// Timestamps in the ISO text form PostgreSQL reads and writes with DateStyle ISO, in UTC.
public enum PQTimestamp {
    // Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
    public static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
    public static func civil(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// As PostgreSQL is sent it: whole microseconds, as it stores them.
    static func format(_ date: Date) -> String {
        iso8601(date, fractionDigits: 6, rounding: .toNearestOrAwayFromZero)
    }

    /// `YYYY-MM-DDTHH:MM:SS.fffZ` in UTC with `fractionDigits` digits after the second, the
    /// instant rounded by `rule` at that precision. Written by hand: statements bind timestamps
    /// on every write, and the API writes them in every answer (Foundation's formatter was a
    /// fifth of the CPU of encoding the weekly report).
    public static func iso8601(_ date: Date, fractionDigits: Int, rounding rule: FloatingPointRoundingRule) -> String {
        var scale: Int64 = 1
        for _ in 0..<fractionDigits { scale *= 10 }
        let ticks = Int64((date.timeIntervalSince1970 * Double(scale)).rounded(rule))
        var seconds = ticks / scale
        var fraction = ticks % scale
        if fraction < 0 { fraction += scale; seconds -= 1 }
        var dayCount = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 { secondOfDay += 86_400; dayCount -= 1 }
        let (y, m, d) = civil(days: Int(dayCount))
        guard (0...9999).contains(y) else {
            // Outside four-digit years PostgreSQL wants more digits or BC; rare enough for the slow way.
            return "\(y)-\(m)-\(d) \(secondOfDay / 3600):\(secondOfDay / 60 % 60):\(secondOfDay % 60).\(fraction)+00"
        }
        return String(unsafeUninitializedCapacity: 21 + fractionDigits) { buffer in
            var at = 0
            func digits(_ value: Int64, _ width: Int) {
                var rest = value
                for position in stride(from: at + width - 1, through: at, by: -1) {
                    buffer[position] = UInt8(48 + rest % 10)
                    rest /= 10
                }
                at += width
            }
            func byte(_ c: Unicode.Scalar) { buffer[at] = UInt8(ascii: c); at += 1 }
            digits(Int64(y), 4); byte("-"); digits(Int64(m), 2); byte("-"); digits(Int64(d), 2); byte("T")
            digits(secondOfDay / 3600, 2); byte(":"); digits(secondOfDay / 60 % 60, 2); byte(":"); digits(secondOfDay % 60, 2)
            if fractionDigits > 0 { byte("."); digits(fraction, fractionDigits) }
            byte("Z")
            return at
        }
    }

    /// Reads `YYYY-MM-DD[ HH:MM:SS[.ffffff]][+HH[:MM[:SS]]]`, and `infinity` / `-infinity`.
    static func parse(_ bytes: UnsafeRawBufferPointer) -> Date? {
        let count = bytes.count
        if count == 8, String(decoding: bytes, as: UTF8.self) == "infinity" { return .distantFuture }
        if count == 9, String(decoding: bytes, as: UTF8.self) == "-infinity" { return .distantPast }
        var i = 0
        func number(_ width: Int) -> Int? {
            guard i + width <= count else { return nil }
            var value = 0
            for _ in 0..<width {
                let digit = Int(bytes[i]) - 48
                guard digit >= 0, digit <= 9 else { return nil }
                value = value * 10 + digit
                i += 1
            }
            return value
        }
        func expect(_ c: Character) -> Bool {
            guard i < count, bytes[i] == c.asciiValue! else { return false }
            i += 1
            return true
        }
        // Years may have more than four digits.
        var year = 0
        var yearDigits = 0
        while i < count, bytes[i] >= 48, bytes[i] <= 57 { year = year * 10 + Int(bytes[i]) - 48; i += 1; yearDigits += 1 }
        guard yearDigits >= 4, expect("-"), let month = number(2), expect("-"), let day = number(2) else { return nil }
        var seconds = Double(days(year: year, month: month, day: day) * 86_400)
        guard i < count else { return Date(timeIntervalSince1970: seconds) }
        guard expect(" ") || expect("T"), let hour = number(2), expect(":"), let minute = number(2),
              expect(":"), let second = number(2) else { return nil }
        seconds += Double(hour * 3600 + minute * 60 + second)
        if expect(".") {
            var fraction = 0
            var scale = 1
            while i < count, bytes[i] >= 48, bytes[i] <= 57 {
                if scale < 1_000_000 { fraction = fraction * 10 + Int(bytes[i]) - 48; scale *= 10 }
                i += 1
            }
            seconds += Double(fraction) / Double(scale)
        }
        if i < count {
            let sign: Double
            if expect("+") { sign = 1 } else if expect("-") { sign = -1 } else if expect("Z") { return i == count ? Date(timeIntervalSince1970: seconds) : nil } else { return nil }
            guard let oh = number(2) else { return nil }
            var offset = oh * 3600
            if expect(":") { guard let om = number(2) else { return nil }; offset += om * 60 }
            if expect(":") { guard let os = number(2) else { return nil }; offset += os }
            seconds -= sign * Double(offset)
        }
        guard i == count else { return nil }
        return Date(timeIntervalSince1970: seconds)
    }
}

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
    public static var pqAcceptedTypes: Set<UInt32>? { [PQType.json, PQType.jsonb, PQType.text] }
    public static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> PQJSON<Value> {
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
        if let date = text.withUTF8({ PQTimestamp.parse(UnsafeRawBufferPointer($0)) }) { return date }
        return try Date(text, strategy: .iso8601)
    }
    return decoder
}()

/// JSON text by hand, for the shapes common enough to be worth it: event payloads here, and the
/// API's hand-written answers (CareAPI's JSONWriter) use `string`. The output is what PQJSON's
/// encoder writes (sorted keys, slashes unescaped).
public enum JSONText {
    static func object(_ strings: [String: String]) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        bytes.reserveCapacity(16 + strings.count * 48)
        for (index, key) in strings.keys.sorted().enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            string(key, into: &bytes)
            bytes.append(UInt8(ascii: ":"))
            string(strings[key]!, into: &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A JSON string: quotes, backslashes and control characters escaped, the rest as UTF-8.
    public static func string(_ text: String, into bytes: inout [UInt8]) {
        bytes.append(34)
        for unit in text.utf8 {
            switch unit {
            case 34: bytes.append(92); bytes.append(34)
            case 92: bytes.append(92); bytes.append(92)
            case 10: bytes.append(92); bytes.append(110)
            case 13: bytes.append(92); bytes.append(114)
            case 9: bytes.append(92); bytes.append(116)
            case 8: bytes.append(92); bytes.append(98)
            case 12: bytes.append(92); bytes.append(102)
            case 0..<32:
                bytes.append(contentsOf: [92, 117, 48, 48, hexDigits[Int(unit >> 4)], hexDigits[Int(unit & 15)]])
            default: bytes.append(unit)
            }
        }
        bytes.append(34)
    }
}

// MARK: - Arrays (one dimension)

extension Array: PQEncodable where Element: PQEncodable {
    public func pqEncode() throws -> String? {
        var text = "{"
        for (index, element) in enumerated() {
            if index > 0 { text += "," }
            guard let item = try element.pqEncode() else { text += "NULL"; continue }
            text += "\""
            for scalar in item.unicodeScalars {
                if scalar == "\"" || scalar == "\\" { text += "\\" }
                text.unicodeScalars.append(scalar)
            }
            text += "\""
        }
        return text + "}"
    }
}

extension Array: PQDecodable where Element: PQDecodable {
    public static var pqAcceptedTypes: Set<UInt32>? { Set(PQType.arrayElements.keys) }
    public static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> [Element] {
        let elementType = PQType.arrayElements[type] ?? PQType.unknown
        if let accepted = Element.pqAcceptedTypes, elementType != PQType.unknown,
           !accepted.contains(elementType) {
            throw PQDecodingFailure("has elements of type \(PQType.name(of: elementType)), not \(Element.self)")
        }
        // Text form: {a,"b c",NULL}; a dimension prefix like [0:1]= is not supported.
        guard bytes.first == UInt8(ascii: "{"), bytes.last == UInt8(ascii: "}") else {
            throw PQDecodingFailure("is not a one-dimensional array")
        }
        var result: [Element] = []
        var i = 1
        let end = bytes.count - 1
        if end == 1 { return [] }
        while i <= end {
            var item: [UInt8] = []
            var quoted = false
            if i < end, bytes[i] == UInt8(ascii: "{") { throw PQDecodingFailure("is a multi-dimensional array") }
            if i < end, bytes[i] == UInt8(ascii: "\"") {
                quoted = true
                i += 1
                while i < end, bytes[i] != UInt8(ascii: "\"") {
                    if bytes[i] == UInt8(ascii: "\\") { i += 1 }
                    if i < end { item.append(bytes[i]) }
                    i += 1
                }
                i += 1  // closing quote
            } else {
                while i < end, bytes[i] != UInt8(ascii: ",") { item.append(bytes[i]); i += 1 }
            }
            if !quoted, item == Array<UInt8>("NULL".utf8) {
                result.append(try Element.pqDecodeNull())
            } else {
                let element = item.withUnsafeBytes { buffer in
                    Result { () throws(PQDecodingFailure) in try Element.pqDecode(buffer, type: elementType) }
                }
                result.append(try element.get())
            }
            i += 1  // the comma, or past the end
        }
        return result
    }
}

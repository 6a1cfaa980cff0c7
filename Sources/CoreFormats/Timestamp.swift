import Foundation

/// Timestamps as text, one reader and one writer for the whole program: the ISO form PostgreSQL
/// reads and writes with DateStyle ISO, and RFC 3339 as the API reads and writes it, in UTC.
public enum Timestamp {
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
    public static func format(_ date: Date) -> String {
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
            digits(secondOfDay / 3600, 2); byte(":"); digits(secondOfDay / 60 % 60, 2); byte(":");
            digits(secondOfDay % 60, 2)
            if fractionDigits > 0 { byte("."); digits(fraction, fractionDigits) }
            byte("Z")
            return at
        }
    }

    /// A calendar date, YYYY-MM-DD, as its midnight in UTC: a year from 1900 to 2999 and a day
    /// that exists in its month.
    public static func day(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard (48...57).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard let y = number(0..<4), let m = number(5..<7), let d = number(8..<10),
            (1...12).contains(m), (1900...2999).contains(y), (1...daysIn(month: m, year: y)).contains(d)
        else { return nil }
        return Date(timeIntervalSince1970: Double(days(year: y, month: m, day: d)) * 86_400)
    }

    /// The number of days in a month of a (proleptic Gregorian) year.
    public static func daysIn(month: Int, year: Int) -> Int {
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    }

    /// Reads PostgreSQL's `YYYY-MM-DD[ HH:MM:SS[.ffffff]][+HH[:MM[:SS]]]` (and `infinity`,
    /// `-infinity`); with `rfc3339`, exactly RFC 3339's date-time instead:
    /// `YYYY-MM-DDTHH:MM:SS[.f…]` and `Z` or `±HH:MM`, a day that exists in its month, an hour
    /// below 24, a minute below 60, a second below 61.
    public static func parse(_ bytes: UnsafeRawBufferPointer, rfc3339: Bool = false) -> Date? {
        let count = bytes.count
        if !rfc3339 {
            if count == 8, String(decoding: bytes, as: UTF8.self) == "infinity" { return .distantFuture }
            if count == 9, String(decoding: bytes, as: UTF8.self) == "-infinity" { return .distantPast }
        }
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
        func expect(_ c: Unicode.Scalar) -> Bool {
            guard i < count, bytes[i] == UInt8(truncatingIfNeeded: c.value) else { return false }
            i += 1
            return true
        }
        // PostgreSQL's years may have more than four digits.
        var year = 0
        var yearDigits = 0
        while i < count, bytes[i] >= 48, bytes[i] <= 57 {
            year = year * 10 + Int(bytes[i]) - 48; i += 1; yearDigits += 1
        }
        guard yearDigits >= 4, !rfc3339 || yearDigits == 4, expect("-"), let month = number(2), expect("-"),
            let day = number(2),
            (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day)
        else { return nil }
        var seconds = Double(days(year: year, month: month, day: day) * 86_400)
        guard i < count else { return rfc3339 ? nil : Date(timeIntervalSince1970: seconds) }
        guard (rfc3339 ? expect("T") || expect("t") : expect(" ") || expect("T")), let hour = number(2), expect(":"),
            let minute = number(2),
            expect(":"), let second = number(2), hour < 24, minute < 60, second < 61
        else { return nil }
        seconds += Double(hour * 3600 + minute * 60 + second)
        if expect(".") {
            var fraction = 0
            var scale = 1
            var digits = 0
            while i < count, bytes[i] >= 48, bytes[i] <= 57 {
                if scale < 1_000_000 { fraction = fraction * 10 + Int(bytes[i]) - 48; scale *= 10 }
                i += 1
                digits += 1
            }
            guard digits > 0 else { return nil }
            seconds += Double(fraction) / Double(scale)
        }
        if i < count {
            let sign: Double
            if expect("+") {
                sign = 1
            } else if expect("-") {
                sign = -1
            } else if expect("Z") || (rfc3339 && expect("z")) {
                return i == count ? Date(timeIntervalSince1970: seconds) : nil
            } else {
                return nil
            }
            guard let oh = number(2), oh < 24 else { return nil }
            var offset = oh * 3600
            if expect(":") {
                guard let om = number(2), om < 60 else { return nil }; offset += om * 60
            } else if rfc3339 {
                return nil
            }
            if !rfc3339, expect(":") { guard let os = number(2) else { return nil }; offset += os }
            seconds -= sign * Double(offset)
        } else if rfc3339 {
            return nil
        }
        guard i == count else { return nil }
        return Date(timeIntervalSince1970: seconds)
    }

    /// `parse` for text.
    public static func parse(_ text: some StringProtocol, rfc3339: Bool = false) -> Date? {
        var text = String(text)
        return text.withUTF8 { parse(UnsafeRawBufferPointer($0), rfc3339: rfc3339) }
    }
}

import CoreFormats
import Foundation

/// A team's time zone (docs/time-zones.md): an IANA name such as America/New_York.
public enum TeamTimeZone {
    public static let utc = "UTC"

    /// The IANA name as kept (the name given: Foundation would call UTC "GMT"), or a refusal
    /// naming close matches ("new york" finds America/New_York).
    public static func validate(_ name: String, field: String = "time_zone") throws(InvalidValue) -> String {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        if TimeZone(identifier: trimmed) != nil, TimeZone.knownTimeZoneIdentifiers.contains(trimmed) || trimmed == utc {
            return trimmed
        }
        let wanted = trimmed.lowercased().replacingOccurrences(of: " ", with: "_")
        let known = TimeZone.knownTimeZoneIdentifiers
        var close = known.filter {
            !wanted.isEmpty && ($0.lowercased().contains(wanted) || wanted.contains($0.lowercased()))
        }
        if close.isEmpty, wanted.count >= 4 {
            // A typing slip ("Europe/Londn", "new yrok"): the whole name or its city within two edits.
            let city = wanted.split(separator: "/").last.map(String.init) ?? wanted
            close = known.filter { name in
                let lowered = name.lowercased()
                let place = lowered.split(separator: "/").last.map(String.init) ?? lowered
                return editDistance(lowered, wanted) <= 2 || (city.count >= 4 && editDistance(place, city) <= 1)
            }
        }
        throw InvalidValue(
            field: field,
            message:
                "'\(trimmed)' is not a time zone: give an IANA name such as America/New_York, Europe/London or UTC",
            accepted: Array(close.prefix(5)))
    }
}

/// Days and instants on one zone's calendar (docs/time-zones.md). A calendar date (YYYY-MM-DD:
/// a due day, a trial's start, an enrolment) is carried as its midnight in UTC, as the API and
/// the database's `date` read it; `midnight(of:)` is the instant that day begins in the zone and
/// `today(at:)` the date it is there at an instant.
public struct LocalCalendar: Sendable, Equatable {
    public let zone: TimeZone
    let calendar: Calendar

    public init(_ zone: TimeZone) {
        self.zone = zone
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        self.calendar = calendar
    }

    /// A team's zone by its IANA name; UTC for a name the zone database does not know.
    public init(identifier: String) {
        self.init(TimeZone(identifier: identifier) ?? TimeZone(identifier: "UTC")!)
    }

    public static let utc = LocalCalendar(TimeZone(identifier: "UTC")!)

    /// The zone's IANA name ("America/New_York"; "UTC").
    public var name: String { zone.identifier == "GMT" ? "UTC" : zone.identifier }

    /// The date it is in the zone at `instant`, as that day's midnight in UTC.
    public func today(at instant: Date) -> Date {
        let parts = calendar.dateComponents([.year, .month, .day], from: instant)
        return LocalCalendar.utc.calendar.date(from: parts)!
    }

    /// The instant the day `day` (its UTC midnight) begins in the zone.
    public func midnight(of day: Date) -> Date {
        let parts = LocalCalendar.utc.calendar.dateComponents([.year, .month, .day], from: day)
        return calendar.date(from: parts)!
    }

    /// `days` calendar days after the day `day` (both UTC midnights; no zone can shift them).
    public func day(_ day: Date, adding days: Int) -> Date {
        LocalCalendar.utc.calendar.date(byAdding: .day, value: days, to: day)!
    }

    /// Whole calendar days from one day to another (UTC midnights).
    public func days(from start: Date, to end: Date) -> Int {
        LocalCalendar.utc.calendar.dateComponents([.day], from: start, to: end).day!
    }

    /// "2026-11-29": the date in the zone at `instant`.
    public func dayText(_ instant: Date) -> String { DayText.format(today(at: instant)) }

    /// The same wall-clock time `days` calendar days later in the zone (a day across a
    /// daylight-saving change is 23 or 25 hours).
    public func instant(_ instant: Date, adding days: Int) -> Date {
        calendar.date(byAdding: .day, value: days, to: instant)!
    }

    /// The instant a wall-clock time (hour, minute) on the day `day` is in the zone.
    public func instant(on day: Date, hour: Int, minute: Int) -> Date {
        let parts = LocalCalendar.utc.calendar.dateComponents([.year, .month, .day], from: day)
        return calendar.date(
            from: DateComponents(year: parts.year, month: parts.month, day: parts.day, hour: hour, minute: minute))!
    }

    /// 1 (Sunday) to 7 (Saturday): the weekday of the day `day`.
    public func weekday(of day: Date) -> Int { LocalCalendar.utc.calendar.component(.weekday, from: day) }
}

/// The words a clinician types for a date or a due time, read on a team's calendar
/// (docs/time-zones.md): "today" at 9 pm in California is that day in California, "+2d" is the
/// same time of day two days on (23 or 25 hours across a daylight-saving change), and a day given
/// as due means the end of that day there (23:59). `day` and `due` return nil for anything that
/// is not one of their words (a plain date or an RFC 3339 time is the caller's to parse); `taken`
/// reads every form a time in the past is typed in, and says why it refuses one.
public enum TypedDates {
    /// today, yesterday, -3d (days ago) or a weekday (the last one, today included), as that day's
    /// midnight in UTC.
    public static func day(_ text: String, now: Date, calendar: LocalCalendar) -> Date? {
        let today = calendar.today(at: now)
        switch text.lowercased() {
        case "today": return today
        case "yesterday": return calendar.day(today, adding: -1)
        default:
            if let match = text.wholeMatch(of: /-(\d{1,4})d/), let days = Int(match.1) {
                return calendar.day(today, adding: -days)
            }
            guard let weekday = weekday(text) else { return nil }
            return calendar.day(today, adding: -((calendar.weekday(of: today) - weekday + 7) % 7))
        }
    }

    /// +4h (hours from now), +2d (the same time of day, days on), today, tomorrow or a weekday
    /// (the next one after today; each the end of that day).
    public static func due(_ text: String, now: Date, calendar: LocalCalendar) -> Date? {
        let today = calendar.today(at: now)
        if let match = text.wholeMatch(of: /\+(\d{1,4})([hd])/), let amount = Int(match.1) {
            return match.2 == "h"
                ? now.addingTimeInterval(Double(amount) * 3600) : calendar.instant(now, adding: amount)
        }
        switch text.lowercased() {
        case "today": return endOfDay(today, calendar)
        case "tomorrow": return endOfDay(calendar.day(today, adding: 1), calendar)
        default:
            guard let weekday = weekday(text) else { return nil }
            let ahead = (weekday - calendar.weekday(of: today) + 7) % 7
            return endOfDay(calendar.day(today, adding: ahead == 0 ? 7 : ahead), calendar)
        }
    }

    /// Why a typed "when it was taken" is refused.
    public enum TakenRefusal: Error, Equatable {
        /// None of the forms `taken` reads.
        case notATime
        /// A time to come: the instant typed, or nil for a word for one (tomorrow, +2d).
        case future(Date?)
    }

    /// When a score (or anything done earlier) was taken, read on the team's calendar
    /// (docs/time-zones.md): an RFC 3339 time as written; `YYYY-MM-DD HH:MM` that minute on the
    /// team's clock; a day (today, yesterday, -3d, a weekday, YYYY-MM-DD) noon that day, except
    /// today, which is now. Never in the future: a minute's grace for a clock behind the server's,
    /// and the answer is never later than `now`.
    public static func taken(_ text: String, now: Date, calendar: LocalCalendar) throws(TakenRefusal) -> Date {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let instant: Date
        if let stamp = Timestamp.parse(trimmed, rfc3339: true) {
            instant = stamp
        } else if let match = trimmed.wholeMatch(of: /(\d{4}-\d{2}-\d{2})[ T](\d{1,2}):(\d{2})/),
            let day = Timestamp.day(String(match.1)), let hour = Int(match.2), let minute = Int(match.3),
            hour < 24, minute < 60
        {
            instant = calendar.instant(on: day, hour: hour, minute: minute)
        } else if let day = Self.day(trimmed, now: now, calendar: calendar) ?? Timestamp.day(trimmed) {
            instant = calendar.today(at: now) == day ? now : calendar.instant(on: day, hour: 12, minute: 0)
        } else if due(trimmed, now: now, calendar: calendar) != nil {
            throw .future(nil)
        } else {
            throw .notATime
        }
        if instant > now.addingTimeInterval(60) { throw .future(instant) }
        return min(instant, now)
    }

    /// 23:59 on the day `day` (its UTC midnight) on the team's calendar: when a task due that day is due.
    public static func endOfDay(_ day: Date, _ calendar: LocalCalendar) -> Date {
        calendar.instant(on: day, hour: 23, minute: 59)
    }

    /// 1 (Sunday) to 7 (Saturday) for a weekday's name or its first three letters.
    static func weekday(_ text: String) -> Int? {
        let names = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
        let typed = text.lowercased()
        guard typed.count >= 3, let index = names.firstIndex(where: { $0.hasPrefix(typed) }) else { return nil }
        return index + 1
    }
}

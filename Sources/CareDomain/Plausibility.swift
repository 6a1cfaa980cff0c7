import Foundation

/// A value that cannot be true, with the field it came in and what would be accepted instead.
public struct InvalidValue: Error, Sendable, Equatable, CustomStringConvertible {
    /// The request's field, as the API names it ("started_on").
    public var field: String
    public var message: String
    /// Allowed values, a range, or close matches; empty when there is nothing to list.
    public var accepted: [String]

    public init(field: String, message: String, accepted: [String] = []) {
        self.field = field
        self.message = message
        self.accepted = accepted
    }

    public var description: String { message }
}

/// What a clinical record's dates may be (docs/domain.md, "What cannot be true is refused"):
/// nothing in the future beyond a small clock skew, nothing long before the patient's enrolment,
/// no stop before its start. A setting (rule_settings 'records'), like every other rule.
public struct RecordRules: Sendable, Equatable, Codable {
    /// How far before enrolment a record may reach (a prior trial, an old score).
    public var historyWindowDays: Int = 365
    /// How far ahead of the server's clock a time may be (a device clock running fast).
    public var clockSkewMinutes: Int = 5

    public init() {}

    /// A calendar date (YYYY-MM-DD, midnight UTC): not after today on the team's calendar (a
    /// clinic in Tokyo may record its today while UTC is still on yesterday; one in California may
    /// not record tomorrow at 9 pm), not before enrolment minus the window (docs/time-zones.md).
    public func checkDay(
        _ day: Date, field: String, now: Date, enrolledOn: Date, calendar: LocalCalendar = .utc
    ) throws(InvalidValue) {
        let latest = calendar.today(at: now)
        if DayText.startOfDay(day) > latest {
            throw InvalidValue(
                field: field,
                message:
                    """
                    '\(field)' \(DayText.format(day)) is in the future; it can be today (\(DayText.format(latest)) in \
                    \(calendar.name), the team's time zone) at the latest
                    """,
                accepted: ["on or before \(DayText.format(latest))"])
        }
        try checkHistory(day, field: field, enrolledOn: enrolledOn)
    }

    /// A moment (a score's taken_at): not in the future beyond the clock skew, not before
    /// enrolment minus the window.
    public func checkTime(_ time: Date, field: String, now: Date, enrolledOn: Date) throws(InvalidValue) {
        if time > now.addingTimeInterval(Double(clockSkewMinutes) * 60) {
            throw InvalidValue(
                field: field, message: "'\(field)' is in the future; a score is recorded once it has been taken",
                accepted: ["now or earlier"])
        }
        try checkHistory(time, field: field, enrolledOn: enrolledOn)
    }

    /// A stop that comes before its start.
    public func checkOrder(start: Date, stop: Date, field: String, startName: String) throws(InvalidValue) {
        if stop < start {
            throw InvalidValue(
                field: field,
                message: "'\(field)' \(DayText.format(stop)) is before '\(startName)' \(DayText.format(start))",
                accepted: ["on or after \(DayText.format(start))"])
        }
    }

    private func checkHistory(_ date: Date, field: String, enrolledOn: Date) throws(InvalidValue) {
        let earliest = DayText.startOfDay(enrolledOn).addingTimeInterval(-Double(historyWindowDays) * 86_400)
        if date < earliest {
            throw InvalidValue(
                field: field,
                message:
                    """
                    '\(field)' \(DayText.format(date)) is more than \(historyWindowDays) days before the patient's \
                    enrolment on \(DayText.format(enrolledOn))
                    """,
                accepted: ["on or after \(DayText.format(earliest))"])
        }
    }
}

/// Calendar dates as the API writes them (YYYY-MM-DD, UTC).
public enum DayText {
    public static func startOfDay(_ date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 86_400).rounded(.down) * 86_400)
    }

    public static func format(_ date: Date) -> String {
        // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
        let days = Int((date.timeIntervalSince1970 / 86_400).rounded(.down))
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(year)-\(two(month))-\(two(day))"
    }
}

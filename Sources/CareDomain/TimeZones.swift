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
        let close = TimeZone.knownTimeZoneIdentifiers.filter {
            !wanted.isEmpty && ($0.lowercased().contains(wanted) || wanted.contains($0.lowercased()))
        }
        throw InvalidValue(
            field: field,
            message:
                "'\(trimmed)' is not a time zone: give an IANA name such as America/New_York, Europe/London or UTC",
            accepted: Array(close.prefix(5)))
    }
}

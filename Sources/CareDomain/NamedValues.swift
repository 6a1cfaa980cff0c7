/// A closed set of values named by strings (roles, statuses, kinds). Decoding an unknown name
/// fails with a message that lists the names (never the Swift type's name), which the API
/// passes on to the caller.
public protocol NamedValues: RawRepresentable, CaseIterable, Codable, Sendable where RawValue == String {}

extension NamedValues {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = Self(rawValue: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "must be one of \(Self.names), not \(text)")
        }
        self = value
    }

    /// "routine, urgent, asap or stat".
    public static var names: String {
        let all = allCases.map(\.rawValue)
        return all.count > 1 ? all.dropLast().joined(separator: ", ") + " or " + all.last! : all.joined()
    }
}

extension Role: NamedValues {}
extension TaskStatus: NamedValues {}
extension TaskPriority: NamedValues {}
extension ReferralKind: NamedValues {}
extension ReferralStatus: NamedValues {}
extension PatientStatus: NamedValues {}
extension TrialKind: NamedValues {}
extension TrialOutcome: NamedValues {}
extension Instrument: NamedValues {}
extension DrugClass: NamedValues {}

/// A note kind, as docs/domain.md names them. Psychotherapy notes are visible to their author only.
public enum NoteKind: String, NamedValues {
    case progress, psychotherapy, social
    case caseReview = "case-review"
}

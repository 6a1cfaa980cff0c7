/// The roles a member can hold on a team. The three clinical roles share a patient's care;
/// a care manager coordinates; an admin manages teams and members and reads no clinical content.
public enum Role: String, Sendable, Codable, CaseIterable, Hashable {
    case psychiatrist
    case psychologist
    case socialWorker = "social_worker"
    case careManager = "care_manager"
    case admin
    /// A service account of another system (EHR, scheduling, billing), limited by its scopes.
    case integration
    /// Reads the audit trail of the team's patients; reads no clinical content.
    case compliance

    /// The roles that share a patient's care and read clinical content.
    public var isClinical: Bool { Self.clinical.contains(self) }
    public static let clinical: Set<Role> = [.psychiatrist, .psychologist, .socialWorker, .careManager]
}

/// The inputs a rule used, in the order it used them, so that every result can say why.
public struct RuleInputs: Sendable, Equatable, Codable, CustomStringConvertible {
    public private(set) var entries: [Entry]

    public struct Entry: Sendable, Equatable, Codable {
        public var name: String
        public var value: String
    }

    public init(_ entries: [(String, String)] = []) {
        self.entries = entries.map { Entry(name: $0.0, value: $0.1) }
    }

    public mutating func add(_ name: String, _ value: String) {
        entries.append(Entry(name: name, value: value))
    }

    public subscript(name: String) -> String? {
        entries.first { $0.name == name }?.value
    }

    public var description: String {
        entries.map { "\($0.name)=\($0.value)" }.joined(separator: ", ")
    }
}

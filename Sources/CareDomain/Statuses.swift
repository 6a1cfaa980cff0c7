/// A status whose changes follow a fixed set of allowed transitions.
public protocol StateMachine: RawRepresentable, Hashable, Sendable, CaseIterable where RawValue == String {
    /// The statuses this one may move to.
    var allowedNext: Set<Self> { get }
    /// What the record is called in a sentence: "task", "referral", "patient".
    static var subject: String { get }
}

extension StateMachine {
    public func canMove(to next: Self) -> Bool { allowedNext.contains(next) }

    public var isTerminal: Bool { allowedNext.isEmpty }

    /// The statuses this one may move to, in the order the type lists them.
    public var allowedNextInOrder: [Self] { Self.allCases.filter(allowedNext.contains) }

    /// The new status, or the reason the change is refused (naming the moves that are allowed).
    public func moving(to next: Self) -> Result<Self, TransitionError> {
        canMove(to: next)
            ? .success(next)
            : .failure(
                TransitionError(
                    subject: Self.subject, from: rawValue, to: next.rawValue,
                    allowed: allowedNextInOrder.map(\.rawValue)))
    }
}

/// A status change the status machine does not allow, in words a caller reads.
public struct TransitionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var subject: String
    public var from: String
    public var to: String
    /// Where `from` may go instead (empty: it is final).
    public var allowed: [String]

    public init(subject: String, from: String, to: String, allowed: [String]) {
        self.subject = subject
        self.from = from
        self.to = to
        self.allowed = allowed
    }

    public var description: String {
        let alternatives =
            allowed.isEmpty
            ? "\(from) is final: it does not move any more"
            : "from \(from) it can move to \(allowed.joined(separator: ", "))"
        return from == to
            ? "the \(subject) is already \(from)" : "a \(subject) that is \(from) cannot move to \(to); \(alternatives)"
    }
}

/// A task's status: the FHIR Task codes CareRelay uses.
public enum TaskStatus: String, StateMachine, Codable {
    case requested
    case accepted
    case inProgress = "in-progress"
    case onHold = "on-hold"
    case completed
    case cancelled
    case failed

    public static let subject = "task"

    /// docs/domain.md, "Task status machine": requested -> accepted (claimed) -> in-progress ->
    /// completed; completing a requested or accepted task claims it in the same step; on-hold
    /// and back; cancelled or failed from any open state.
    public var allowedNext: Set<TaskStatus> {
        switch self {
        case .requested: [.accepted, .inProgress, .onHold, .completed, .cancelled, .failed]
        case .accepted: [.requested, .inProgress, .onHold, .completed, .cancelled, .failed]
        case .inProgress: [.onHold, .completed, .cancelled, .failed]
        case .onHold: [.requested, .accepted, .inProgress, .cancelled, .failed]
        case .completed, .cancelled, .failed: []
        }
    }

    /// Moves that need a stated reason.
    public var needsReason: Bool { self == .cancelled || self == .failed }

    /// Open tasks still ask something of someone.
    public var isOpen: Bool { !isTerminal }
}

/// How urgent a task is (FHIR request priority), most urgent last.
public enum TaskPriority: String, Sendable, Codable, CaseIterable, Comparable {
    case routine, urgent, asap, stat

    private var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (lhs: TaskPriority, rhs: TaskPriority) -> Bool { lhs.rank < rhs.rank }
}

public enum ReferralKind: String, Sendable, Codable, CaseIterable {
    case tms, ect, esketamine, other
}

/// A TMS / ECT (or other) referral, tracked from request to completion.
public enum ReferralStatus: String, StateMachine, Codable {
    case requested, accepted, scheduled
    case inCourse = "in-course"
    case completed, declined, cancelled

    public static let subject = "referral"

    /// Still under way (a second open referral of the same kind needs a reason).
    public var isOpen: Bool { !isTerminal }

    /// A referral declined or cancelled withdraws the handoffs it made (docs/domain.md).
    public var withdrawsItsWork: Bool { self == .declined || self == .cancelled }

    public var allowedNext: Set<ReferralStatus> {
        switch self {
        case .requested: [.accepted, .declined, .cancelled]
        case .accepted: [.scheduled, .cancelled, .declined]
        case .scheduled: [.inCourse, .cancelled]
        case .inCourse: [.completed, .cancelled]
        case .completed, .declined, .cancelled: []
        }
    }
}

/// Where a patient is in the programme.
public enum PatientStatus: String, StateMachine, Codable {
    case enrolled, active
    case relapsePrevention = "relapse-prevention"
    case discharged

    public static let subject = "patient"

    public var allowedNext: Set<PatientStatus> {
        switch self {
        case .enrolled: [.active, .discharged]
        case .active: [.relapsePrevention, .discharged]
        case .relapsePrevention: [.active, .discharged]
        case .discharged: [.active]  // re-enrolment after a relapse
        }
    }
}

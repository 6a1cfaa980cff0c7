/// A status whose changes follow a fixed set of allowed transitions.
public protocol StateMachine: RawRepresentable, Hashable, Sendable, CaseIterable where RawValue == String {
    /// The statuses this one may move to.
    var allowedNext: Set<Self> { get }
}

extension StateMachine {
    public func canMove(to next: Self) -> Bool { allowedNext.contains(next) }

    public var isTerminal: Bool { allowedNext.isEmpty }

    /// The new status, or the reason the change is refused.
    public func moving(to next: Self) -> Result<Self, TransitionError> {
        canMove(to: next)
            ? .success(next)
            : .failure(TransitionError(kind: String(describing: Self.self), from: rawValue, to: next.rawValue))
    }
}

public struct TransitionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var kind: String
    public var from: String
    public var to: String
    public init(kind: String, from: String, to: String) {
        self.kind = kind
        self.from = from
        self.to = to
    }
    public var description: String { "\(kind) cannot move from \(from) to \(to)" }
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

    public var allowedNext: Set<TaskStatus> {
        switch self {
        case .requested: [.accepted, .inProgress, .cancelled, .onHold]
        case .accepted: [.inProgress, .onHold, .cancelled, .requested]
        case .inProgress: [.completed, .onHold, .failed, .cancelled]
        case .onHold: [.inProgress, .accepted, .requested, .cancelled]
        case .completed, .cancelled, .failed: []
        }
    }

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

    public var allowedNext: Set<PatientStatus> {
        switch self {
        case .enrolled: [.active, .discharged]
        case .active: [.relapsePrevention, .discharged]
        case .relapsePrevention: [.active, .discharged]
        case .discharged: [.active]  // re-enrolment after a relapse
        }
    }
}

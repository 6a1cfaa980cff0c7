import Foundation

/// The rating scales CareRelay records.
public enum Instrument: String, Sendable, Codable, CaseIterable {
    case phq9 = "PHQ-9"
    case madrs = "MADRS"
    case gad7 = "GAD-7"

    public var itemCount: Int {
        switch self {
        case .phq9: 9
        case .madrs: 10
        case .gad7: 7
        }
    }

    /// Each item is scored 0...maxItemScore.
    public var maxItemScore: Int {
        switch self {
        case .phq9, .gad7: 3
        case .madrs: 6
        }
    }

    public var maxTotal: Int { itemCount * maxItemScore }

    /// Below this total a patient is in remission (PHQ-9 < 5, MADRS < 10).
    public var remissionBelow: Int? {
        switch self {
        case .phq9: 5
        case .madrs: 10
        case .gad7: nil
        }
    }
}

public struct MeasurementError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A scored rating: total, item answers when given, and the safety signal.
public struct Score: Sendable, Equatable, Codable {
    public var instrument: Instrument
    public var total: Int
    public var items: [Int]?

    /// Scores item answers (each 0...max), or takes a total alone (MADRS is often recorded as one).
    public init(_ instrument: Instrument, items: [Int]) throws(MeasurementError) {
        guard items.count == instrument.itemCount else {
            throw MeasurementError("\(instrument.rawValue) has \(instrument.itemCount) items, got \(items.count)")
        }
        for (index, answer) in items.enumerated() where !(0...instrument.maxItemScore).contains(answer) {
            throw MeasurementError(
                "\(instrument.rawValue) item \(index + 1) must be 0 to \(instrument.maxItemScore), got \(answer)")
        }
        self.instrument = instrument
        self.items = items
        self.total = items.reduce(0, +)
    }

    public init(_ instrument: Instrument, total: Int) throws(MeasurementError) {
        guard (0...instrument.maxTotal).contains(total) else {
            throw MeasurementError("\(instrument.rawValue) total must be 0 to \(instrument.maxTotal), got \(total)")
        }
        self.instrument = instrument
        self.total = total
        self.items = nil
    }

    /// PHQ-9 item 9 (thoughts of being better off dead or of self-harm) above 0.
    public var isSafetySignal: Bool {
        instrument == .phq9 && (items?[8] ?? 0) > 0
    }

    public var severity: Severity { Severity.of(self) }

    public var isRemission: Bool {
        instrument.remissionBelow.map { total < $0 } ?? false
    }
}

/// Severity bands. PHQ-9: 0-4, 5-9, 10-14, 15-19, 20-27. MADRS: 0-6, 7-19, 20-34, 35-60.
/// GAD-7: 0-4, 5-9, 10-14, 15-21.
public enum Severity: String, Sendable, Codable, Comparable, CaseIterable {
    case minimal, mild, moderate
    case moderatelySevere = "moderately-severe"
    case severe

    private var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }

    public static func of(_ score: Score) -> Severity {
        let total = score.total
        switch score.instrument {
        case .phq9:
            switch total {
            case ..<5: return .minimal
            case 5..<10: return .mild
            case 10..<15: return .moderate
            case 15..<20: return .moderatelySevere
            default: return .severe
            }
        case .madrs:
            switch total {
            case ..<7: return .minimal
            case 7..<20: return .mild
            case 20..<35: return .moderate
            default: return .severe
            }
        case .gad7:
            switch total {
            case ..<5: return .minimal
            case 5..<10: return .mild
            case 10..<15: return .moderate
            default: return .severe
            }
        }
    }
}

/// How a patient's latest score compares with their baseline.
public enum ResponseCategory: String, Sendable, Codable, CaseIterable {
    /// In remission (below the instrument's remission line), whatever the drop.
    case remission
    /// At least a 50% drop from baseline.
    case response
    /// A 25% to 50% drop.
    case partialResponse = "partial-response"
    /// Less than a 25% drop (or worse).
    case nonResponse = "non-response"
}

public struct ResponseAssessment: Sendable, Equatable, Codable {
    public var category: ResponseCategory
    /// Drop from baseline as a fraction of baseline (0.5 = 50% better; negative = worse).
    public var improvement: Double
    public var isResponse: Bool
    public var isRemission: Bool
    public var inputs: RuleInputs
}

/// Thresholds for response; defaults from docs/domain.md, changeable as data.
public struct ResponseRules: Sendable, Equatable, Codable {
    public var responseDrop: Double = 0.50
    public var partialDrop: Double = 0.25
    public init() {}

    /// Response, partial response or non-response of `latest` against `baseline` (same instrument).
    /// Remission is reported beside the category and takes its place when reached.
    public func assess(baseline: Score, latest: Score) throws(MeasurementError) -> ResponseAssessment {
        guard baseline.instrument == latest.instrument else {
            throw MeasurementError(
                "cannot compare \(latest.instrument.rawValue) with a \(baseline.instrument.rawValue) baseline")
        }
        let improvement = baseline.total == 0 ? 0 : Double(baseline.total - latest.total) / Double(baseline.total)
        let isResponse = baseline.total > 0 && improvement >= responseDrop
        let category: ResponseCategory =
            latest.isRemission
            ? .remission
            : isResponse
                ? .response
                : improvement >= partialDrop
                    ? .partialResponse
                    : .nonResponse
        let inputs = RuleInputs(
            [
                ("instrument", baseline.instrument.rawValue), ("baseline", "\(baseline.total)"),
                ("latest", "\(latest.total)"), ("improvement", String(format: "%.1f%%", improvement * 100)),
                ("response at", "\(Int(responseDrop * 100))%"), ("partial at", "\(Int(partialDrop * 100))%"),
            ] + (latest.instrument.remissionBelow.map { [("remission below", "\($0)")] } ?? []))
        return ResponseAssessment(
            category: category, improvement: improvement, isResponse: isResponse,
            isRemission: latest.isRemission, inputs: inputs)
    }
}

extension Severity {
    /// The band by the name the instrument gives it: PHQ-9 minimal, mild, moderate, moderately
    /// severe, severe; GAD-7 minimal to severe; MADRS normal, mild, moderate, severe.
    public func name(for instrument: Instrument) -> String {
        switch self {
        case .minimal: instrument == .madrs ? "normal" : "minimal"
        case .moderatelySevere: "moderately severe"
        case .mild, .moderate, .severe: rawValue
        }
    }
}

extension Score {
    /// The severity band by its usual name ("moderately severe").
    public var band: String { severity.name(for: instrument) }

    /// The band of a stored total (a total the database holds is always in range).
    public static func band(_ instrument: Instrument, total: Int) -> String {
        ((try? Score(instrument, total: total))?.severity ?? .severe).name(for: instrument)
    }
}

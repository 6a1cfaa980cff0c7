import Foundation

// Prior authorisation (docs/prior-authorisation.md): a payer's criteria for TMS, ECT or esketamine
// as data, and one pure evaluation of a patient's facts against them that says, for each
// criterion, whether it is met, by what evidence, and what to record when it is not.

/// One criterion of a payer's set. Encoded with a `type` and the rule's own fields, e.g.
/// `{"type": "failed-trials", "minimumTrials": 2, "minimumClasses": 2, "minimumAugmentations": 0}`.
public indirect enum Criterion: Sendable, Equatable, Codable {
    /// At least `minimumTrials` failed adequate antidepressant trials (medication or augmentation)
    /// in the current episode, from at least `minimumClasses` drug classes, of which at least
    /// `minimumAugmentations` augmentations.
    case failedTrials(FailedTrialsRule)
    /// An adequate psychotherapy trial, or (when allowed) a documented reason none was possible.
    case psychotherapy(PsychotherapyRule)
    /// A recent severity: a PHQ-9 or a MADRS at or above its threshold within `withinDays`.
    case severity(SeverityRule)
    /// The psychiatrist's contraindication screen for the treatment: done, and nothing found.
    case contraindicationScreen(ScreenRule)
    /// The patient's age on the day of evaluation.
    case minimumAge(AgeRule)
    /// A statement the team documents (a need for a rapid response, an anaesthesia work-up done).
    case documented(DocumentedRule)
    /// Met when any of its criteria is.
    case anyOf(GroupRule)
    /// Met when all of its criteria are.
    case allOf(GroupRule)

    public struct FailedTrialsRule: Sendable, Equatable, Codable {
        public var minimumTrials: Int
        public var minimumClasses: Int
        public var minimumAugmentations: Int
        public init(minimumTrials: Int, minimumClasses: Int = 1, minimumAugmentations: Int = 0) {
            self.minimumTrials = minimumTrials
            self.minimumClasses = minimumClasses
            self.minimumAugmentations = minimumAugmentations
        }
    }

    public struct PsychotherapyRule: Sendable, Equatable, Codable {
        public var allowDocumentedReason: Bool
        public init(allowDocumentedReason: Bool) { self.allowDocumentedReason = allowDocumentedReason }
    }

    public struct SeverityRule: Sendable, Equatable, Codable {
        public var phq9AtLeast: Int?
        public var madrsAtLeast: Int?
        public var withinDays: Int
        public init(phq9AtLeast: Int?, madrsAtLeast: Int?, withinDays: Int) {
            self.phq9AtLeast = phq9AtLeast
            self.madrsAtLeast = madrsAtLeast
            self.withinDays = withinDays
        }
    }

    public struct ScreenRule: Sendable, Equatable, Codable {
        public var treatment: ScreenTreatment
        public init(treatment: ScreenTreatment) { self.treatment = treatment }
    }

    public struct AgeRule: Sendable, Equatable, Codable {
        public var years: Int
        public init(years: Int) { self.years = years }
    }

    public struct DocumentedRule: Sendable, Equatable, Codable {
        /// What the statement is filed under (`rapid-response`, `anaesthesia-workup`).
        public var key: String
        /// What must be documented, in the payer's words.
        public var statement: String
        public init(key: String, statement: String) {
            self.key = key
            self.statement = statement
        }
    }

    public struct GroupRule: Sendable, Equatable, Codable {
        public var label: String
        public var criteria: [Criterion]
        public init(label: String, criteria: [Criterion]) {
            self.label = label
            self.criteria = criteria
        }
    }

    enum TypeKey: String, CodingKey { case type }

    /// The `type` of each kind of criterion, as encoded.
    public static let types = [
        "failed-trials", "psychotherapy", "severity", "contraindication-screen", "minimum-age", "documented",
        "any-of", "all-of",
    ]

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: TypeKey.self)
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "failed-trials": self = .failedTrials(try FailedTrialsRule(from: decoder))
        case "psychotherapy": self = .psychotherapy(try PsychotherapyRule(from: decoder))
        case "severity": self = .severity(try SeverityRule(from: decoder))
        case "contraindication-screen": self = .contraindicationScreen(try ScreenRule(from: decoder))
        case "minimum-age": self = .minimumAge(try AgeRule(from: decoder))
        case "documented": self = .documented(try DocumentedRule(from: decoder))
        case "any-of": self = .anyOf(try GroupRule(from: decoder))
        case "all-of": self = .allOf(try GroupRule(from: decoder))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: container,
                debugDescription: "unknown criterion type '\(type)'; known: \(Self.types.joined(separator: ", "))")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: TypeKey.self)
        switch self {
        case .failedTrials(let rule):
            try container.encode("failed-trials", forKey: .type)
            try rule.encode(to: encoder)
        case .psychotherapy(let rule):
            try container.encode("psychotherapy", forKey: .type)
            try rule.encode(to: encoder)
        case .severity(let rule):
            try container.encode("severity", forKey: .type)
            try rule.encode(to: encoder)
        case .contraindicationScreen(let rule):
            try container.encode("contraindication-screen", forKey: .type)
            try rule.encode(to: encoder)
        case .minimumAge(let rule):
            try container.encode("minimum-age", forKey: .type)
            try rule.encode(to: encoder)
        case .documented(let rule):
            try container.encode("documented", forKey: .type)
            try rule.encode(to: encoder)
        case .anyOf(let rule):
            try container.encode("any-of", forKey: .type)
            try rule.encode(to: encoder)
        case .allOf(let rule):
            try container.encode("all-of", forKey: .type)
            try rule.encode(to: encoder)
        }
    }

    /// The criterion in words, as a packet states it.
    public var statement: String {
        switch self {
        case .failedTrials(let rule):
            var text =
                """
                at least \(rule.minimumTrials) failed adequate antidepressant \
                trial\(rule.minimumTrials == 1 ? "" : "s") in the current episode
                """
            if rule.minimumClasses > 1 { text += ", from at least \(rule.minimumClasses) drug classes" }
            if rule.minimumAugmentations > 0 {
                text +=
                    ", including \(rule.minimumAugmentations) augmentation\(rule.minimumAugmentations == 1 ? "" : "s")"
            }
            return text
        case .psychotherapy(let rule):
            return "an adequate trial of an evidence-based psychotherapy"
                + (rule.allowDocumentedReason ? ", or a documented reason none was possible" : "")
        case .severity(let rule):
            let thresholds = [
                rule.phq9AtLeast.map { "PHQ-9 of \($0) or more" }, rule.madrsAtLeast.map { "MADRS of \($0) or more" },
            ].compactMap { $0 }
            return "\(thresholds.joined(separator: " or ")) within \(rule.withinDays) days"
        case .contraindicationScreen(let rule):
            return "the \(rule.treatment.spoken) contraindication screen done and negative"
        case .minimumAge(let rule):
            return "age \(rule.years) or over"
        case .documented(let rule):
            return rule.statement
        case .anyOf(let group), .allOf(let group):
            return group.label
        }
    }
}

/// A payer's criteria for one treatment. Versions are kept by the store; this is one version.
public struct CriteriaSet: Sendable, Equatable, Codable {
    public var name: String
    public var treatment: ReferralKind
    public var criteria: [Criterion]
    /// Sessions the payer commonly authorises (a packet's request), when it says.
    public var sessionsRequested: Int?

    public init(name: String, treatment: ReferralKind, criteria: [Criterion], sessionsRequested: Int? = nil) {
        self.name = name
        self.treatment = treatment
        self.criteria = criteria
        self.sessionsRequested = sessionsRequested
    }

    /// The defaults (docs/prior-authorisation.md): configurable, not clinical advice.
    public static let defaultTMS = CriteriaSet(
        name: "Default TMS", treatment: .tms,
        criteria: [
            .failedTrials(.init(minimumTrials: 2, minimumClasses: 2)),
            .psychotherapy(.init(allowDocumentedReason: true)),
            .severity(.init(phq9AtLeast: 15, madrsAtLeast: 20, withinDays: 30)),
            .contraindicationScreen(.init(treatment: .tms)),
            .minimumAge(.init(years: 18)),
        ], sessionsRequested: 36)

    public static let defaultECT = CriteriaSet(
        name: "Default ECT", treatment: .ect,
        criteria: [
            .anyOf(
                .init(
                    label: "a severe episode with a failed adequate trial, or a documented need for a rapid response",
                    criteria: [
                        .allOf(
                            .init(
                                label: "a severe episode with at least 1 failed adequate trial",
                                criteria: [
                                    .severity(.init(phq9AtLeast: 20, madrsAtLeast: 35, withinDays: 30)),
                                    .failedTrials(.init(minimumTrials: 1)),
                                ])),
                        .documented(
                            .init(
                                key: "rapid-response",
                                statement:
                                    """
                                    a need for a rapid response (active suicidality, catatonia, psychotic features, \
                                    not eating)
                                    """
                            )),
                    ])),
            .documented(.init(key: "anaesthesia-workup", statement: "the anaesthesia work-up done")),
            .contraindicationScreen(.init(treatment: .ect)),
        ], sessionsRequested: 12)

    public static let defaultEsketamine = CriteriaSet(
        name: "Default esketamine", treatment: .esketamine,
        criteria: [
            .failedTrials(.init(minimumTrials: 2)),
            .documented(
                .init(key: "oral-antidepressant", statement: "an oral antidepressant continued alongside")),
            .documented(
                .init(key: "certified-centre", statement: "the treatment centre certified for esketamine")),
            .minimumAge(.init(years: 18)),
        ])

    public static let defaults = [defaultTMS, defaultECT, defaultEsketamine]

    /// Each criterion met or not, with its evidence and, when unmet, what to record.
    public func evaluate(_ facts: PriorAuthFacts) -> PriorAuthEvaluation {
        PriorAuthEvaluation(
            criteriaSet: name, treatment: treatment, asOf: facts.asOf,
            results: criteria.map { PriorAuthEvaluation.evaluate($0, facts) })
    }
}

/// The treatments the psychiatrist screens for.
public enum ScreenTreatment: String, Sendable, Codable, CaseIterable {
    case tms, ect
    public var spoken: String { rawValue.uppercased() }
}

/// What the contraindication screen asks (the psychiatrist's TMS/ECT screening handoff).
public enum ContraindicationItem: String, Sendable, Codable, CaseIterable {
    case metalOrImplantedDevice = "metal-or-implanted-device"
    case seizureHistory = "seizure-history"
    case seizureThresholdMedicines = "seizure-threshold-medicines"
    case pregnancy
    case cardiacOrAnaestheticRisk = "cardiac-or-anaesthetic-risk"
    case interferingMedicines = "interfering-medicines"

    /// The questions of each treatment's screen.
    public static func asked(for treatment: ScreenTreatment) -> [ContraindicationItem] {
        switch treatment {
        case .tms: [.metalOrImplantedDevice, .seizureHistory, .seizureThresholdMedicines, .pregnancy]
        case .ect: [.cardiacOrAnaestheticRisk, .interferingMedicines, .pregnancy]
        }
    }

    public var question: String {
        switch self {
        case .metalOrImplantedDevice:
            "metal in the head, or an implanted device (pacemaker, cochlear implant, stimulator)"
        case .seizureHistory: "a history of seizures or epilepsy"
        case .seizureThresholdMedicines: "medicines that lower the seizure threshold"
        case .pregnancy: "pregnancy"
        case .cardiacOrAnaestheticRisk: "cardiac or anaesthetic risk"
        case .interferingMedicines: "benzodiazepines or anticonvulsants that would interfere with the treatment"
        }
    }
}

/// A completed screen: an answer to every question of its treatment (true: present).
public struct ContraindicationScreen: Sendable, Equatable, Codable {
    public var treatment: ScreenTreatment
    public var answers: [ContraindicationItem: Bool]
    public var completedAt: Date
    public var note: String?

    public init(
        treatment: ScreenTreatment, answers: [ContraindicationItem: Bool], completedAt: Date, note: String? = nil
    ) {
        self.treatment = treatment
        self.answers = answers
        self.completedAt = completedAt
        self.note = note
    }

    /// The questions left unanswered.
    public var unanswered: [ContraindicationItem] {
        ContraindicationItem.asked(for: treatment).filter { answers[$0] == nil }
    }

    /// What the screen found.
    public var findings: [ContraindicationItem] {
        ContraindicationItem.asked(for: treatment).filter { answers[$0] == true }
    }

    /// A screen is checked when it is recorded: every question of the treatment answered, and
    /// nothing asked that the treatment's screen does not ask.
    public func validate() throws(InvalidValue) {
        let asked = ContraindicationItem.asked(for: treatment)
        if let stray = answers.keys.first(where: { !asked.contains($0) }) {
            throw InvalidValue(
                field: "answers", message: "the \(treatment.spoken) screen does not ask about \(stray.rawValue)",
                accepted: asked.map(\.rawValue))
        }
        if !unanswered.isEmpty {
            throw InvalidValue(
                field: "answers",
                message:
                    """
                    the \(treatment.spoken) screen needs an answer (true or false) to each question; missing: \
                    \(unanswered.map(\.rawValue).joined(separator: ", "))
                    """,
                accepted: asked.map(\.rawValue))
        }
    }
}

/// A trial as a packet and its criteria read it (entered-in-error trials left out by the caller).
public struct PacketTrial: Sendable, Equatable, Codable {
    public var id: UUID
    public var kind: TrialKind
    /// The drug, or for psychotherapy and neuromodulation the therapy.
    public var name: String
    public var drugClass: DrugClass?
    public var start: Date
    public var stop: Date?
    public var adequacy: AdequacyAssessment?
    public var isFailed: Bool

    public init(
        id: UUID, kind: TrialKind, name: String, drugClass: DrugClass?, start: Date, stop: Date?,
        adequacy: AdequacyAssessment?, isFailed: Bool
    ) {
        self.id = id
        self.kind = kind
        self.name = name
        self.drugClass = drugClass
        self.start = start
        self.stop = stop
        self.adequacy = adequacy
        self.isFailed = isFailed
    }
}

public struct PacketScore: Sendable, Equatable, Codable {
    public var id: UUID
    public var score: Score
    public var takenAt: Date
    public init(id: UUID, score: Score, takenAt: Date) {
        self.id = id
        self.score = score
        self.takenAt = takenAt
    }
}

/// What the criteria are evaluated against: the patient's records as of `asOf`.
public struct PriorAuthFacts: Sendable, Equatable {
    public var asOf: Date
    /// The start of the current depressive episode: trials that stopped before it do not count.
    public var episodeStart: Date
    public var birthDate: Date?
    public var trials: [PacketTrial]
    public var scores: [PacketScore]
    /// Why no psychotherapy was possible, when the team documented it.
    public var noPsychotherapyReason: String?
    public var screens: [ContraindicationScreen]
    /// Documented statements by key (`rapid-response`: what was documented).
    public var documented: [String: String]
    /// The team's calendar: a score's or a screen's day, and the patient's age today, are the
    /// team's (docs/time-zones.md); trial and birth dates are calendar dates whatever the zone.
    public var calendar: LocalCalendar

    public init(
        asOf: Date, episodeStart: Date, birthDate: Date? = nil, trials: [PacketTrial] = [],
        scores: [PacketScore] = [], noPsychotherapyReason: String? = nil, screens: [ContraindicationScreen] = [],
        documented: [String: String] = [:], calendar: LocalCalendar = LocalCalendar(identifier: "UTC")
    ) {
        self.asOf = asOf
        self.episodeStart = episodeStart
        self.birthDate = birthDate
        self.trials = trials
        self.scores = scores
        self.noPsychotherapyReason = noPsychotherapyReason
        self.screens = screens
        self.documented = documented
        self.calendar = calendar
    }
}

/// A criterion's verdict.
public struct CriterionResult: Sendable, Equatable, Codable {
    public var statement: String
    public var isMet: Bool
    /// What meets it, or what was found short of it, in words.
    public var evidence: [String]
    public var trialIDs: [UUID]
    public var scoreIDs: [UUID]
    /// When unmet: what to record to meet it.
    public var toMeet: String?
    /// A group's own criteria, each with its verdict.
    public var parts: [CriterionResult]
}

public struct PriorAuthEvaluation: Sendable, Equatable, Codable {
    public var criteriaSet: String
    public var treatment: ReferralKind
    public var asOf: Date
    public var results: [CriterionResult]

    public var allMet: Bool { results.allSatisfy(\.isMet) }
    public var unmet: [CriterionResult] { results.filter { !$0.isMet } }

    static let day: DateFormatter = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter
    }()

    static func day(_ date: Date) -> String { day.string(from: date) }

    static func evaluate(_ criterion: Criterion, _ facts: PriorAuthFacts) -> CriterionResult {
        var result = CriterionResult(
            statement: criterion.statement, isMet: false, evidence: [], trialIDs: [], scoreIDs: [], toMeet: nil,
            parts: [])
        switch criterion {
        case .failedTrials(let rule):
            let inEpisode = facts.trials.filter { $0.stop.map { $0 >= facts.episodeStart } ?? true }
            let counted = inEpisode.filter { $0.kind.countsTowardsTRD && $0.isFailed }
            let classes = Set(counted.compactMap(\.drugClass))
            let augmentations = counted.filter { $0.kind == .augmentation }.count
            result.trialIDs = counted.map(\.id)
            result.evidence = counted.map {
                """
                \($0.name) (\($0.drugClass?.rawValue ?? "class unknown")), \(day($0.start)) to \
                \($0.stop.map(day) ?? "now"): failed, adequate: \($0.adequacy?.reason ?? "")
                """
            }
            // Trials that did not count, and why: what a reviewer would ask about first.
            for trial in inEpisode where trial.kind.countsTowardsTRD && !trial.isFailed {
                result.evidence.append(
                    "not counted: \(trial.name) from \(day(trial.start)): "
                        + (trial.adequacy.map {
                            $0.isAdequate ? "no failed outcome recorded" : "not adequate (\($0.reason))"
                        }
                            ?? "no outcome recorded"))
            }
            result.isMet =
                counted.count >= rule.minimumTrials && classes.count >= rule.minimumClasses
                && augmentations >= rule.minimumAugmentations
            if !result.isMet {
                var short: [String] = []
                if counted.count < rule.minimumTrials {
                    short.append(
                        """
                        \(counted.count) failed adequate trial\(counted.count == 1 ? " is" : "s are") recorded in this \
                        episode, \(rule.minimumTrials) needed
                        """
                    )
                }
                if classes.count < rule.minimumClasses {
                    short.append(
                        """
                        \(classes.count) class\(classes.count == 1 ? "" : "es") \
                        (\(classes.map(\.rawValue).sorted().joined(separator: ", "))), \(rule.minimumClasses) needed
                        """
                    )
                }
                if augmentations < rule.minimumAugmentations {
                    short.append(
                        """
                        \(augmentations) augmentation\(augmentations == 1 ? "" : "s"), \(rule.minimumAugmentations) \
                        needed
                        """
                    )
                }
                result.toMeet =
                    short.joined(separator: "; ")
                        + """
                        : record the outcome of each trial that ended (an adequate trial with non-response or partial \
                        response is a failed one), or the trials given before CareRelay
                        """
            }
        case .psychotherapy(let rule):
            let adequate = facts.trials.filter { $0.kind == .psychotherapy && $0.adequacy?.isAdequate == true }
            result.trialIDs = adequate.map(\.id)
            result.evidence = adequate.map {
                "\($0.name), \(day($0.start)) to \($0.stop.map(day) ?? "now"): \($0.adequacy?.reason ?? "adequate")"
            }
            if !adequate.isEmpty {
                result.isMet = true
            } else if rule.allowDocumentedReason, let reason = facts.noPsychotherapyReason {
                result.isMet = true
                result.evidence.append("no psychotherapy was possible: \(reason)")
            } else {
                let tried = facts.trials.filter { $0.kind == .psychotherapy }
                result.evidence += tried.map {
                    "not adequate: \($0.name) from \(day($0.start)): \($0.adequacy?.reason ?? "no sessions recorded")"
                }
                result.toMeet =
                    (tried.isEmpty ? "no psychotherapy trial is recorded" : "no psychotherapy trial is adequate yet")
                    + (rule.allowDocumentedReason
                        ? ": record one (or its sessions), or the reason there was none"
                        : ": record one, or its sessions")
            }
        case .severity(let rule):
            let since = facts.asOf.addingTimeInterval(-Double(rule.withinDays) * 86_400)
            let recent = facts.scores.filter { $0.takenAt >= since && $0.takenAt <= facts.asOf }
                .sorted { $0.takenAt > $1.takenAt }
            func threshold(_ instrument: Instrument) -> Int? {
                switch instrument {
                case .phq9: rule.phq9AtLeast
                case .madrs: rule.madrsAtLeast
                case .gad7: nil
                }
            }
            let qualifying = recent.filter { score in
                threshold(score.score.instrument).map { score.score.total >= $0 } ?? false
            }
            if let best = qualifying.first {
                result.isMet = true
                result.scoreIDs = [best.id]
                result.evidence = [
                    "\(best.score.instrument.rawValue) \(best.score.total) on \(facts.calendar.dayText(best.takenAt))"
                ]
                // A later score below the threshold is said too: the reviewer sees the trend,
                // not only the score that meets the rule (docs/prior-authorisation.md).
                if let latest = recent.first(where: { threshold($0.score.instrument) != nil }), latest.id != best.id,
                    let below = threshold(latest.score.instrument)
                {
                    result.evidence.append(
                        "since then: \(latest.score.instrument.rawValue) \(latest.score.total) on "
                            + "\(facts.calendar.dayText(latest.takenAt)), below \(below)")
                }
            } else {
                let counted = recent.filter { threshold($0.score.instrument) != nil }
                result.scoreIDs = counted.prefix(1).map(\.id)
                result.evidence = counted.prefix(1).map {
                    "latest: \($0.score.instrument.rawValue) \($0.score.total) on \(facts.calendar.dayText($0.takenAt))"
                }
                result.toMeet =
                    counted.isEmpty
                    ? "no PHQ-9 or MADRS in the last \(rule.withinDays) days: record one"
                    : """
                    the scores of the last \(rule.withinDays) days are below the threshold: the payer asks for \
                    \(criterion.statement); record the latest score
                    """
            }
        case .contraindicationScreen(let rule):
            let screen = facts.screens.filter { $0.treatment == rule.treatment }.max { $0.completedAt < $1.completedAt }
            if let screen {
                let findings = screen.findings
                result.evidence = [
                    "\(rule.treatment.spoken) screen of \(facts.calendar.dayText(screen.completedAt)): "
                        + (findings.isEmpty
                            ? """
                            nothing found \
                            (\(ContraindicationItem.asked(for: rule.treatment).map(\.rawValue).joined(separator: ", ")))
                            """
                            : "found \(findings.map(\.question).joined(separator: "; "))")
                ]
                result.isMet = findings.isEmpty && screen.unanswered.isEmpty
                if !result.isMet {
                    result.toMeet =
                        screen.unanswered.isEmpty
                        ? """
                        the screen found a contraindication: the payer needs a negative screen, or the \
                        psychiatrist's account of why the treatment is still safe
                        """
                        : "complete the screen: \(screen.unanswered.map(\.rawValue).joined(separator: ", "))"
                }
            } else {
                result.toMeet =
                    """
                    no \(rule.treatment.spoken) contraindication screen is recorded: the psychiatrist completes it \
                    (the screening handoff)
                    """
            }
        case .minimumAge(let rule):
            if let birth = facts.birthDate {
                let years = Self.age(born: birth, on: facts.calendar.today(at: facts.asOf))
                result.evidence = ["age \(years) (born \(day(birth)))"]
                result.isMet = years >= rule.years
                if !result.isMet { result.toMeet = "the patient is under \(rule.years)" }
            } else {
                result.toMeet = "record the patient's date of birth"
            }
        case .documented(let rule):
            if let text = facts.documented[rule.key] {
                result.isMet = true
                result.evidence = [text]
            } else {
                result.toMeet = "document \(rule.statement) (\(rule.key))"
            }
        case .anyOf(let group), .allOf(let group):
            result.parts = group.criteria.map { evaluate($0, facts) }
            let isAll: Bool
            if case .allOf = criterion { isAll = true } else { isAll = false }
            result.isMet = isAll ? result.parts.allSatisfy(\.isMet) : result.parts.contains(where: \.isMet)
            let chosen = result.parts.filter { isAll || $0.isMet }
            result.evidence = chosen.flatMap(\.evidence)
            result.trialIDs = chosen.flatMap(\.trialIDs)
            result.scoreIDs = chosen.flatMap(\.scoreIDs)
            if !result.isMet {
                let missing = result.parts.filter { !$0.isMet }.compactMap(\.toMeet)
                result.toMeet =
                    (isAll ? "all of: " : "one of: ") + missing.joined(separator: isAll ? "; and " : "; or ")
            }
        }
        return result
    }

    /// Whole years from `born` to `day`, both calendar dates (midnight UTC).
    static func age(born: Date, on day: Date) -> Int {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.dateComponents([.year], from: calendar.startOfDay(for: born), to: day).year ?? 0
    }
}

/// Where a packet stands with the payer: drafted when made, then submitted, then approved or
/// denied. A denial is answered by a new packet, not by moving this one.
public enum PriorAuthStatus: String, Sendable, Codable, CaseIterable {
    case drafted, submitted, approved, denied

    public var next: [PriorAuthStatus] {
        switch self {
        case .drafted: [.submitted]
        case .submitted: [.approved, .denied]
        case .approved, .denied: []
        }
    }

    public func moving(to next: PriorAuthStatus) throws(TransitionError) {
        guard self.next.contains(next) else {
            throw TransitionError(
                subject: "prior authorisation", from: rawValue, to: next.rawValue, allowed: self.next.map(\.rawValue))
        }
    }
}

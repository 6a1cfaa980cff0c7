import CareDomain
import CareStore
import CoreFormats
import Foundation

/// Trials, referrals and tasks as FHIR R4 resources (docs/fhir.md, "Mapping").
extension FHIR {
    static let snomed = "http://snomed.info/sct"
    static let drugSystem = base + "/CodeSystem/drug"
    static let therapySystem = base + "/CodeSystem/therapy"
    static let referralKindSystem = base + "/CodeSystem/referral-kind"
    static let roleSystem = base + "/CodeSystem/role"
    static let memberSystem = base + "/NamingSystem/member"
    static let trialOutcomeExtension = base + "/StructureDefinition/trial-outcome"
    static let trialAdequateExtension = base + "/StructureDefinition/trial-adequate"
    static let trialFailedExtension = base + "/StructureDefinition/trial-failed"
    static let referralStatusExtension = base + "/StructureDefinition/referral-status"
    static let trialAdherenceExtension = base + "/StructureDefinition/trial-adherence"
    static let ucum = "http://unitsofmeasure.org"

    struct Period: Encodable, Equatable {
        var start: String?
        var end: String?
    }

    /// A reference by identifier: care-team members are not served as Practitioner resources.
    struct LogicalReference: Encodable, Equatable {
        var identifier: Identifier
        var display: String?
    }

    /// An extension with any of the value types CareRelay writes.
    struct ValueExtension: Encodable, Equatable {
        var url: String
        var valueCode: String?
        var valueBoolean: Bool?
        var valueDate: String?
        var valueDecimal: Double?
    }

    /// One dose step of a trial: the daily dose from a date until the next step (or the stop).
    struct Dosage: Encodable, Equatable {
        struct Timing: Encodable, Equatable {
            struct Repeat: Encodable, Equatable {
                var boundsPeriod: Period
                var frequency = 1
                var period = 1
                var periodUnit = "d"
            }
            var `repeat`: Repeat
        }
        struct DoseAndRate: Encodable, Equatable {
            struct Quantity: Encodable, Equatable {
                var value: Double
                var unit = "mg"
                var system = FHIR.ucum
                var code = "mg"
            }
            var doseQuantity: Quantity
        }
        var sequence: Int
        var text: String
        var timing: Timing
        var doseAndRate: [DoseAndRate]
    }

    struct MedicationStatement: Encodable {
        let resourceType = "MedicationStatement"
        var id: String
        var meta: Meta?
        var `extension`: [ValueExtension]?
        var status: String
        var category: CodeableConcept
        var medicationCodeableConcept: CodeableConcept
        var subject: Reference
        var effectivePeriod: Period
        var note: [Annotation]?
        var dosage: [Dosage]?
    }

    struct Procedure: Encodable {
        let resourceType = "Procedure"
        var id: String
        var meta: Meta?
        var `extension`: [ValueExtension]?
        var status: String
        var category: CodeableConcept
        var code: CodeableConcept
        var subject: Reference
        var performedPeriod: Period
        var outcome: CodeableConcept?
        var note: [Annotation]?
    }

    struct ServiceRequest: Encodable {
        let resourceType = "ServiceRequest"
        var id: String
        var meta: Meta?
        var `extension`: [ValueExtension]?
        var status: String
        var intent = "order"
        var code: CodeableConcept
        var subject: Reference
        var authoredOn: String
        var performer: [Reference]?
        var reasonCode: [CodeableConcept]?
        var note: [Annotation]?
    }

    struct Task: Encodable {
        struct Restriction: Encodable { var period: Period }
        let resourceType = "Task"
        var id: String
        var meta: Meta?
        var status: String
        var statusReason: CodeableConcept?
        var intent = "order"
        var priority: String
        var code: CodeableConcept?
        var description: String
        var `for`: Reference
        var focus: Reference?
        var owner: LogicalReference?
        var performerType: [CodeableConcept]?
        var reasonCode: CodeableConcept?
        var reasonReference: Reference?
        var restriction: Restriction?
        var note: [Annotation]?
    }

    static func day(_ date: Date) -> String { DayText.format(date) }

    static func patient(_ id: UUID) -> Reference { Reference(reference: "Patient/\(id.lowercasedString)") }

    /// The care-team roles: SNOMED CT occupations where there is one, CareRelay's code otherwise
    /// (made once: every Task and CareTeam written reads them).
    static func role(_ role: Role) -> CodeableConcept { roles[role] ?? makeRole(role) }
    static let roles = Dictionary(uniqueKeysWithValues: Role.allCases.map { ($0, makeRole($0)) })

    static func makeRole(_ role: Role) -> CodeableConcept {
        let snomed: (String, String)? =
            switch role {
            case .psychiatrist: ("80584001", "Psychiatrist")
            case .psychologist: ("59944000", "Psychologist")
            case .socialWorker: ("106328005", "Social worker")
            default: nil
            }
        var coding = [
            Coding(
                system: roleSystem, code: role.rawValue, display: role.rawValue.replacingOccurrences(of: "_", with: " ")
            )
        ]
        if let snomed { coding.insert(Coding(system: FHIR.snomed, code: snomed.0, display: snomed.1), at: 0) }
        return CodeableConcept(coding: coding, text: role.rawValue.replacingOccurrences(of: "_", with: " "))
    }
}

// MARK: Trials

extension TrialSummary {
    /// Medication and augmentation trials are MedicationStatements; psychotherapy and
    /// neuromodulation courses are Procedures.
    var isMedication: Bool { kind == .medication || kind == .augmentation }

    var fhirExtensions: [FHIR.ValueExtension] {
        var extensions: [FHIR.ValueExtension] = []
        if let outcome { extensions.append(.init(url: FHIR.trialOutcomeExtension, valueCode: outcome.rawValue)) }
        if let adequacy {
            extensions.append(.init(url: FHIR.trialAdequateExtension, valueBoolean: adequacy.isAdequate))
        }
        extensions.append(.init(url: FHIR.trialFailedExtension, valueBoolean: isFailed))
        if let adherence { extensions.append(.init(url: FHIR.trialAdherenceExtension, valueDecimal: adherence)) }
        return extensions
    }

    /// The dose steps as FHIR dosages, in order: each daily dose from its date to the next
    /// step's (the last to the trial's stop, or open while it runs).
    var fhirDosage: [FHIR.Dosage]? {
        guard !doses.isEmpty else { return nil }
        return doses.enumerated().map { index, step in
            let until = index + 1 < doses.count ? doses[index + 1].from : stoppedOn
            return FHIR.Dosage(
                sequence: index + 1,
                text: "\(step.dailyDoseMg.plainText) mg a day from \(FHIR.day(step.from))"
                    + (until.map { " to \(FHIR.day($0))" } ?? ""),
                timing: .init(
                    repeat: .init(boundsPeriod: FHIR.Period(start: FHIR.day(step.from), end: until.map(FHIR.day)))),
                doseAndRate: [.init(doseQuantity: .init(value: step.dailyDoseMg))])
        }
    }

    var fhirNotes: [FHIR.Annotation]? {
        var notes: [FHIR.Annotation] = []
        if let adequacy { notes.append(.init(text: "Adequacy: \(adequacy.reason)")) }
        if let outcome {
            notes.append(.init(text: "Outcome: \(outcome.rawValue)\(isFailed ? " (a failed trial)" : "")"))
        }
        if let adherence { notes.append(.init(text: "Adherence: \(Int((adherence * 100).rounded()))% of doses taken")) }
        if let stopReason { notes.append(.init(text: "Stopped: \(stopReason)")) }
        if let enteredInError { notes.append(.init(text: "Entered in error: \(enteredInError.reason)")) }
        return notes.isEmpty ? nil : notes
    }

    /// The FHIR status of a trial: `running` while it runs (active, in-progress), then stopped
    /// (intolerance, stopped early) or completed; entered-in-error.
    func fhirStatus(running: String) -> String {
        if enteredInError != nil { return "entered-in-error" }
        guard stoppedOn != nil else { return running }
        return [.intolerance, .stoppedEarly].contains(outcome) ? "stopped" : "completed"
    }

    var fhirPeriod: FHIR.Period {
        FHIR.Period(start: FHIR.day(startedOn), end: stoppedOn.map(FHIR.day))
    }
}

extension FHIR.MedicationStatement {
    init(_ trial: TrialSummary, patientID: UUID) {
        let status = trial.fhirStatus(running: "active")
        let drug = trial.drug ?? trial.kind.rawValue
        self.init(
            id: trial.id.lowercasedString, extension: trial.fhirExtensions, status: status,
            category: FHIR.CodeableConcept(
                coding: [FHIR.Coding(system: FHIR.base + "/CodeSystem/trial-kind", code: trial.kind.rawValue)],
                text: trial.kind.rawValue),
            medicationCodeableConcept: FHIR.CodeableConcept(
                coding: [FHIR.Coding(system: FHIR.drugSystem, code: drug, display: drug)], text: drug),
            subject: FHIR.patient(patientID), effectivePeriod: trial.fhirPeriod, note: trial.fhirNotes,
            dosage: trial.fhirDosage)
        meta = .updated(trial.updatedAt)
    }
}

extension FHIR.Procedure {
    init(_ trial: TrialSummary, patientID: UUID) {
        let status = trial.fhirStatus(running: "in-progress")
        let therapy = trial.therapy ?? trial.kind.rawValue
        var coding = [FHIR.Coding(system: FHIR.therapySystem, code: therapy, display: therapy)]
        if trial.kind == .psychotherapy {
            coding.insert(FHIR.Coding(system: FHIR.snomed, code: "75516001", display: "Psychotherapy"), at: 0)
        } else if therapy.lowercased() == "ect" {
            coding.insert(
                FHIR.Coding(system: FHIR.snomed, code: "23835007", display: "Electroconvulsive therapy"), at: 0)
        }
        self.init(
            id: trial.id.lowercasedString, extension: trial.fhirExtensions, status: status,
            category: FHIR.CodeableConcept(
                coding: [FHIR.Coding(system: FHIR.base + "/CodeSystem/trial-kind", code: trial.kind.rawValue)],
                text: trial.kind.rawValue),
            code: FHIR.CodeableConcept(coding: coding, text: therapy), subject: FHIR.patient(patientID),
            performedPeriod: trial.fhirPeriod,
            outcome: trial.outcome.map { FHIR.CodeableConcept(text: $0.rawValue) }, note: trial.fhirNotes)
        meta = .updated(trial.updatedAt)
    }
}

// MARK: Referrals

extension FHIR.ServiceRequest {
    init(_ referral: ReferralSummary, patientID: UUID) {
        let status: String
        if referral.enteredInError != nil {
            status = "entered-in-error"
        } else {
            switch referral.status {
            case .requested, .accepted, .scheduled, .inCourse: status = "active"
            case .completed: status = "completed"
            case .declined, .cancelled: status = "revoked"
            }
        }
        var coding = [
            FHIR.Coding(system: FHIR.referralKindSystem, code: referral.kind.rawValue, display: referral.kind.rawValue)
        ]
        if referral.kind == .ect {
            coding.insert(
                FHIR.Coding(system: FHIR.snomed, code: "23835007", display: "Electroconvulsive therapy"), at: 0)
        }
        var notes: [FHIR.Annotation] = []
        if let statusReason = referral.statusReason {
            notes.append(.init(text: "Status \(referral.status.rawValue): \(statusReason)"))
        }
        if let enteredInError = referral.enteredInError {
            notes.append(.init(text: "Entered in error: \(enteredInError.reason)"))
        }
        self.init(
            id: referral.id.lowercasedString,
            extension: [FHIR.ValueExtension(url: FHIR.referralStatusExtension, valueCode: referral.status.rawValue)],
            status: status, code: FHIR.CodeableConcept(coding: coding, text: referral.kind.rawValue.uppercased()),
            subject: FHIR.patient(patientID), authoredOn: FHIR.dateTime(referral.createdAt),
            performer: [FHIR.Reference(display: referral.targetClinic)],
            reasonCode: referral.reason.map { [FHIR.CodeableConcept(text: $0)] }, note: notes.isEmpty ? nil : notes)
        meta = .updated(referral.updatedAt)
    }
}

// MARK: Tasks

extension FHIR.Task {
    /// The record a cause names, as the resource it is served as.
    static func reference(_ record: HandoffCause.Record) -> FHIR.Reference {
        let (type, id): (String, UUID) =
            switch record {
            case .measurement(let id): ("Observation", id)
            case .trial(let id, let kind):
                (kind == .medication || kind == .augmentation ? "MedicationStatement" : "Procedure", id)
            case .referral(let id): ("ServiceRequest", id)
            }
        return FHIR.Reference(reference: "\(type)/\(id.lowercasedString)")
    }

    /// What a handoff's task acts on: the referral it tracks (docs/fhir.md).
    static func focus(_ record: HandoffCause.Record) -> FHIR.Reference? {
        if case .referral = record { return reference(record) }
        return nil
    }

    init(_ task: TaskSummary) {
        // The cause that made the handoff (its first not withdrawn).
        let cause = task.causes?.first { $0.withdrawnAt == nil }
        var notes: [FHIR.Annotation] = []
        for cause in task.causes ?? [] where cause.withdrawnAt == nil {
            notes.append(.init(text: "Because: \(cause.summary)"))
        }
        self.init(
            id: task.id.lowercasedString, status: task.status.rawValue,
            statusReason: task.statusReason.map { FHIR.CodeableConcept(text: $0) }, priority: task.priority.rawValue,
            code: task.handoffID == nil
                ? nil
                : FHIR.CodeableConcept(
                    coding: [
                        FHIR.Coding(system: FHIR.base + "/CodeSystem/task-origin", code: "handoff", display: "Handoff")
                    ]
                        // Which step of the playbook made it, for an integrator routing the work.
                        + (task.stepKey.map { [FHIR.Coding(system: FHIR.playbookStepSystem, code: $0)] } ?? []),
                    text: "Handoff"),
            description: task.title, for: FHIR.patient(task.patientID), focus: cause?.record.flatMap(Self.focus),
            owner: task.ownerID.map {
                FHIR.LogicalReference(
                    identifier: FHIR.Identifier(system: FHIR.memberSystem, value: $0.lowercasedString))
            },
            performerType: task.poolRole.map { [FHIR.role($0)] },
            reasonCode: cause.map { FHIR.CodeableConcept(text: $0.summary) },
            reasonReference: cause?.record.map(Self.reference),
            restriction: task.dueAt.map { FHIR.Task.Restriction(period: FHIR.Period(end: FHIR.dateTime($0))) },
            note: notes.isEmpty ? nil : notes)
        meta = .updated(task.updatedAt)
    }
}

// MARK: Care team, care plan, notes

extension FHIR {
    static let noteKindSystem = base + "/CodeSystem/note-kind"
    /// The playbook steps that make handoffs (docs/domain.md): a handoff's Task carries its step.
    static let playbookStepSystem = base + "/CodeSystem/playbook-step"

    struct CareTeam: Encodable {
        struct Participant: Encodable {
            var role: [CodeableConcept]
            var member: LogicalReference
        }
        let resourceType = "CareTeam"
        var id: String
        var status = "active"
        var name: String
        var participant: [Participant]
    }

    struct CarePlan: Encodable {
        struct Activity: Encodable { var reference: Reference }
        let resourceType = "CarePlan"
        var id: String
        var meta: Meta
        var status = "active"
        var intent = "plan"
        var title = "Care plan"
        var description: String?
        var subject: Reference
        var created: String
        var author: LogicalReference?
        var activity: [Activity]?
        var note: [Annotation]?
    }

    struct DocumentReference: Encodable {
        struct Content: Encodable {
            struct Attachment: Encodable {
                var contentType = "text/plain; charset=utf-8"
                var data: String
            }
            var attachment: Attachment
        }
        struct RelatesTo: Encodable {
            var code: String
            var target: Reference
        }
        let resourceType = "DocumentReference"
        var id: String
        var meta: Meta?
        var status: String
        var docStatus: String
        var type: CodeableConcept
        var subject: Reference
        var date: String
        var author: [LogicalReference]
        var relatesTo: [RelatesTo]?
        var content: [Content]
    }

    static func member(_ id: UUID, _ name: String? = nil) -> LogicalReference {
        LogicalReference(identifier: Identifier(system: memberSystem, value: id.lowercasedString), display: name)
    }
}

extension FHIR.CareTeam {
    /// The team's clinicians and care managers with their roles; service accounts are left out.
    init(teamID: UUID, name: String, members: [TeamMemberItem]) {
        self.init(
            id: teamID.lowercasedString, name: name,
            participant: members.filter { !$0.isServiceAccount }.map { member in
                Participant(role: member.roles.map(FHIR.role), member: FHIR.member(member.id, member.displayName))
            })
    }
}

extension FHIR.CarePlan {
    /// The patient's shared plan (one per patient: its id is the patient's), its open tasks as
    /// activities.
    init(_ plan: CarePlan, openTasks: [UUID]) {
        var notes: [FHIR.Annotation] = []
        notes += plan.content.problems.map { FHIR.Annotation(text: "Problem: \($0)") }
        notes += plan.content.goals.map { FHIR.Annotation(text: "Goal: \($0)") }
        self.init(
            id: plan.patientID.lowercasedString,
            meta: FHIR.Meta(versionId: String(plan.version), lastUpdated: FHIR.dateTime(plan.updatedAt)),
            description: plan.content.treatmentLine.isEmpty ? nil : plan.content.treatmentLine,
            subject: FHIR.patient(plan.patientID), created: FHIR.dateTime(plan.updatedAt),
            author: plan.authorID.map { FHIR.member($0) },
            activity: openTasks.isEmpty
                ? nil : openTasks.map { Activity(reference: FHIR.Reference(reference: "Task/\($0.lowercasedString)")) },
            note: notes.isEmpty ? nil : notes)
    }
}

extension FHIR.DocumentReference {
    /// A team-visible note (progress, social, case review). Psychotherapy notes are never one.
    init(_ note: NoteSummary, patientID: UUID) {
        self.init(
            id: note.id.lowercasedString, status: note.enteredInError == nil ? "current" : "entered-in-error",
            docStatus: note.amendedBy.isEmpty ? "final" : "amended",
            type: FHIR.CodeableConcept(
                coding: [
                    FHIR.Coding(system: FHIR.noteKindSystem, code: note.kind.rawValue, display: note.kind.rawValue)
                ],
                text: "\(note.kind.rawValue) note"),
            subject: FHIR.patient(patientID), date: FHIR.dateTime(note.createdAt),
            author: [FHIR.member(note.authorID, note.authorName)],
            relatesTo: note.amends.map {
                [
                    RelatesTo(
                        code: "appends", target: FHIR.Reference(reference: "DocumentReference/\($0.lowercasedString)"))
                ]
            },
            content: [Content(attachment: .init(data: Data(note.body.utf8).base64EncodedString()))])
        meta = .updated(note.updatedAt)
    }
}

// MARK: Audit

extension FHIR {
    static let auditActionSystem = base + "/CodeSystem/audit-action"
    static let requestSystem = base + "/NamingSystem/request"

    struct AuditEvent: Encodable {
        struct Agent: Encodable {
            var who: LogicalReference?
            var requestor: Bool
        }
        struct Source: Encodable { var observer: Reference }
        struct Entity: Encodable { var what: EntityReference }
        /// A Reference by literal reference or by identifier.
        struct EntityReference: Encodable {
            var reference: String?
            var identifier: Identifier?
        }
        let resourceType = "AuditEvent"
        var id: String
        var type: Coding
        var subtype: [Coding]
        var action: String
        var recorded: String
        var outcome: String
        var outcomeDesc: String?
        var agent: [Agent]
        var source: Source
        var entity: [Entity]
    }
}

extension FHIR.AuditEvent {
    /// An audit entry: who did what to whose record, when, and how it ended (allowed: 0
    /// success, failed: 4 minor failure, denied: 8 serious failure).
    init(_ entry: AuditItem) {
        let verb = entry.action.split(separator: ".").last.map(String.init) ?? entry.action
        let action: String
        switch verb {
        case "read", "list", "search", "everything", "weekly", "export": action = "R"
        case "create", "record", "enrol", "add", "start", "make", "snapshot": action = "C"
        case "delete", "revoke": action = "D"
        default: action = "U"
        }
        var entities = [Entity]()
        if let patient = entry.patientID {
            entities.append(Entity(what: EntityReference(reference: "Patient/\(patient.lowercasedString)")))
        }
        if let request = entry.requestID {
            entities.append(
                Entity(what: EntityReference(identifier: FHIR.Identifier(system: FHIR.requestSystem, value: request))))
        }
        self.init(
            id: String(entry.id),
            type: FHIR.Coding(
                system: "http://terminology.hl7.org/CodeSystem/audit-event-type", code: "rest",
                display: "RESTful Operation"),
            subtype: [FHIR.Coding(system: FHIR.auditActionSystem, code: entry.action, display: entry.resource)],
            action: action, recorded: FHIR.dateTime(entry.at),
            outcome: entry.outcome == "allowed" ? "0" : entry.outcome == "failed" ? "4" : "8",
            outcomeDesc: entry.detail,
            agent: [Agent(who: entry.memberID.map { FHIR.member($0) }, requestor: true)],
            source: Source(observer: FHIR.Reference(display: "CareRelay care-server")), entity: entities)
    }
}

// MARK: Provenance

extension FHIR {
    static let eventTypeSystem = base + "/CodeSystem/event-type"

    struct Provenance: Encodable {
        struct Agent: Encodable { var who: LogicalReference }
        let resourceType = "Provenance"
        var id: String
        var target: [Reference]
        var recorded: String
        var activity: CodeableConcept
        var agent: [Agent]
    }
}

extension FHIR.Provenance {
    /// Who recorded what, when: one per event of the patient's log (docs/domain.md, the event
    /// log), its targets the records the event names. Nil for what FHIR never shows (an event
    /// of a psychotherapy note).
    init?(_ event: FeedEvent, patientID: UUID, medicationTrials: Set<String>) {
        if event.type.hasPrefix("note."), event.payload["kind"] == NoteKind.psychotherapy.rawValue { return nil }
        var targets: [FHIR.Reference] = []
        func target(_ type: String, _ key: String) {
            if let id = event.payload[key], UUID(hyphenated: id) != nil {
                targets.append(FHIR.Reference(reference: "\(type)/\(id)"))
            }
        }
        target("Observation", "measurement_id")
        if let trial = event.payload["trial_id"] {
            target(medicationTrials.contains(trial) ? "MedicationStatement" : "Procedure", "trial_id")
        }
        target("ServiceRequest", "referral_id")
        target("DocumentReference", "note_id")
        target("Task", "task_id")
        if targets.isEmpty { targets.append(FHIR.patient(patientID)) }
        let who =
            event.actorID.map { FHIR.member($0) }
            ?? FHIR.LogicalReference(
                identifier: FHIR.Identifier(system: FHIR.memberSystem, value: "system"),
                display: "CareRelay (the playbook or a scheduled job)")
        self.init(
            id: String(event.id), target: targets, recorded: FHIR.dateTime(event.occurredAt),
            activity: FHIR.CodeableConcept(
                coding: [FHIR.Coding(system: FHIR.eventTypeSystem, code: event.type)], text: event.type),
            agent: [Agent(who: who)])
    }
}

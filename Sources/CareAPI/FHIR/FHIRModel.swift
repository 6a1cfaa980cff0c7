import CareDomain
import CareStore
import CoreFormats
import Foundation

/// The few FHIR R4 (4.0.1) data types CareRelay writes, as Codable values: the resources are
/// built from the store's own types here and encoded on the one JSON path (docs/fhir.md has the
/// mapping). Optional fields left nil are left out, as FHIR requires (no nulls).
enum FHIR {
    /// Where CareRelay's own code systems, naming systems and extensions live (stable URLs).
    static let base = "https://carerelay.example/fhir"
    static let mrnSystem = base + "/NamingSystem/mrn"
    static let instrumentSystem = base + "/CodeSystem/instrument"
    static let severitySystem = base + "/CodeSystem/severity"
    static let enrolledOnExtension = base + "/StructureDefinition/enrolled-on"
    static let patientStatusExtension = base + "/StructureDefinition/patient-status"
    static let loinc = "http://loinc.org"
    static let observationCategory = "http://terminology.hl7.org/CodeSystem/observation-category"
    static let interpretationSystem = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
    static let contentType = "application/fhir+json; charset=utf-8"

    struct Coding: Encodable, Equatable {
        var system: String?
        var code: String?
        var display: String?
    }

    struct CodeableConcept: Encodable, Equatable {
        var coding: [Coding]?
        var text: String?
    }

    struct Reference: Encodable, Equatable {
        var reference: String?
        var display: String?
    }

    struct Identifier: Encodable, Equatable {
        var use: String?
        var system: String?
        var value: String?
    }

    struct HumanName: Encodable, Equatable {
        var text: String?
    }

    struct Extension: Encodable, Equatable {
        var url: String
        var valueDate: String?
        var valueCode: String?
    }

    struct Meta: Encodable, Equatable {
        var versionId: String?
        var lastUpdated: String?

        /// When the record last changed, which `_lastUpdated` searches by.
        static func updated(_ date: Date?) -> Meta? { date.map { Meta(lastUpdated: FHIR.dateTime($0)) } }
    }

    struct Patient: Encodable {
        let resourceType = "Patient"
        var id: String
        var meta: Meta?
        var `extension`: [Extension]?
        var identifier: [Identifier]
        var active: Bool
        var name: [HumanName]
    }

    struct Observation: Encodable {
        struct Component: Encodable {
            var code: CodeableConcept
            var valueInteger: Int
            var interpretation: [CodeableConcept]?
        }
        let resourceType = "Observation"
        var id: String
        var meta: Meta?
        var status: String
        var category: [CodeableConcept]
        var code: CodeableConcept
        var subject: Reference
        var effectiveDateTime: String
        var interpretation: [CodeableConcept]?
        var note: [Annotation]?
        var component: [Component]
    }

    struct Annotation: Encodable {
        var text: String
    }

    struct OperationOutcome: Encodable {
        struct Issue: Encodable {
            var severity: String
            var code: String
            var diagnostics: String?
        }
        let resourceType = "OperationOutcome"
        var issue: [Issue]
    }

    /// A searchset Bundle: the page's resources and the link to the next page.
    ///
    /// The resources are kept as they were given, each with the end of its `fullUrl` beside it,
    /// and not copied into an entry apiece: the hand-written writer (FHIRWriting.swift) writes
    /// the entries from them directly (BENCHMARKS.md, "bench/fhir", session 17). The Codable
    /// encoding, the same document, makes the entries.
    struct Bundle<Resource: Encodable>: Encodable {
        struct Link: Encodable {
            var relation: String
            var url: String
        }
        struct Entry: Encodable {
            struct Search: Encodable { var mode = "match" }
            var fullUrl: String
            var resource: Resource
            var search = Search()
        }
        let resourceType = "Bundle"
        var type = "searchset"
        var link: [Link]
        /// Where the entries' fullUrls start, ending in "/": the server's FHIR base URL, and the
        /// resource type when the Bundle holds one type.
        let base: String
        let resources: [Resource]
        /// The rest of each resource's fullUrl after `base` (its id, or `Type/id`).
        let paths: [String]

        init(link: [Link], base: String, resources: [Resource], paths: [String]) {
            precondition(resources.count == paths.count, "a path for each resource")
            self.link = link
            self.base = base
            self.resources = resources
            self.paths = paths
        }

        var entry: [Entry] {
            resources.indices.map { Entry(fullUrl: base + paths[$0], resource: resources[$0]) }
        }

        private enum CodingKeys: String, CodingKey { case resourceType, type, link, entry }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(resourceType, forKey: .resourceType)
            try container.encode(type, forKey: .type)
            try container.encode(link, forKey: .link)
            try container.encode(entry, forKey: .entry)
        }
    }

    /// Any resource, for Bundles that hold several types ($everything).
    struct AnyResource: Encodable {
        let type: String
        let id: String
        let resource: any Encodable

        init(_ type: String, _ id: String, _ resource: any Encodable) {
            self.type = type
            self.id = id
            self.resource = resource
        }

        func encode(to encoder: any Encoder) throws { try resource.encode(to: encoder) }
    }

    static func dateTime(_ date: Date) -> String { Timestamp.format(date) }
}

// MARK: Patient

extension FHIR.Patient {
    init(_ summary: PatientSummary) {
        self.init(
            id: summary.id, mrn: summary.mrn, name: summary.displayName, status: summary.status,
            enrolledOn: summary.enrolledOn)
        meta = .updated(summary.updatedAt)
    }

    init(_ item: PatientListItem) {
        self.init(id: item.id, mrn: item.mrn, name: item.displayName, status: item.status, enrolledOn: item.enrolledOn)
        meta = .updated(item.updatedAt)
    }

    init(id: UUID, mrn: String, name: String, status: PatientStatus, enrolledOn: Date) {
        self.init(
            id: id.lowercasedString,
            extension: [
                FHIR.Extension(url: FHIR.enrolledOnExtension, valueDate: DayText.format(enrolledOn)),
                FHIR.Extension(url: FHIR.patientStatusExtension, valueCode: status.rawValue),
            ],
            identifier: [FHIR.Identifier(use: "usual", system: FHIR.mrnSystem, value: mrn)],
            active: status != .discharged,
            name: [FHIR.HumanName(text: name)])
    }
}

// MARK: Observation

/// How each instrument is coded: LOINC where it has codes (the PHQ-9 and GAD-7 panels, totals
/// and items), CareRelay's instrument code system where it has none (MADRS).
enum InstrumentCoding {
    struct Codes {
        let panel: FHIR.Coding
        let total: FHIR.Coding
        let items: [FHIR.Coding]
        /// The same codes as the concepts an Observation holds, made once with them: the
        /// panel's (its text is the instrument's name), the total's, and each item's.
        let panelConcept: FHIR.CodeableConcept
        let totalConcept: FHIR.CodeableConcept
        let itemConcepts: [FHIR.CodeableConcept]
        /// A score's severity band as its interpretation, in `Severity.allCases` order.
        let severityConcepts: [FHIR.CodeableConcept]

        init(panel: FHIR.Coding, total: FHIR.Coding, items: [FHIR.Coding], instrument: Instrument) {
            self.panel = panel
            self.total = total
            self.items = items
            panelConcept = FHIR.CodeableConcept(coding: [panel], text: instrument.rawValue)
            totalConcept = FHIR.CodeableConcept(coding: [total], text: "Total")
            itemConcepts = items.map { FHIR.CodeableConcept(coding: [$0]) }
            severityConcepts = Severity.allCases.map { severity in
                let band = severity.name(for: instrument)
                return FHIR.CodeableConcept(
                    coding: [FHIR.Coding(system: FHIR.severitySystem, code: severity.rawValue, display: band)],
                    text: band)
            }
        }

        func severityConcept(_ severity: Severity) -> FHIR.CodeableConcept {
            severityConcepts[Severity.allCases.firstIndex(of: severity)!]
        }
    }

    /// Every score's category.
    static let category = [
        FHIR.CodeableConcept(coding: [FHIR.Coding(system: FHIR.observationCategory, code: "survey", display: "Survey")])
    ]
    /// The interpretation of a safety signal (the score's, and the flagged item's).
    static let abnormal = FHIR.CodeableConcept(
        coding: [FHIR.Coding(system: FHIR.interpretationSystem, code: "A", display: "Abnormal")],
        text: "Safety signal: an answer above 0 to the item on thoughts of death or self-harm")

    /// Each instrument's codes, made once (every Observation written reads them).
    static func codes(_ instrument: Instrument) -> Codes {
        switch instrument {
        case .phq9: phq9
        case .gad7: gad7
        case .madrs: madrs
        }
    }
    static let phq9 = makeCodes(.phq9)
    static let gad7 = makeCodes(.gad7)
    static let madrs = makeCodes(.madrs)

    static func makeCodes(_ instrument: Instrument) -> Codes {
        switch instrument {
        case .phq9:
            let items: [(String, String)] = [
                ("44250-9", "Little interest or pleasure in doing things"),
                ("44255-8", "Feeling down, depressed, or hopeless"),
                ("44259-0", "Trouble falling or staying asleep, or sleeping too much"),
                ("44254-1", "Feeling tired or having little energy"),
                ("44251-7", "Poor appetite or overeating"),
                (
                    "44258-2",
                    "Feeling bad about yourself-or that you are a failure or have let yourself or your family down"
                ),
                ("44252-5", "Trouble concentrating on things, such as reading the newspaper or watching television"),
                ("44253-3", "Moving or speaking so slowly that other people could have noticed"),
                ("44260-8", "Thoughts that you would be better off dead, or of hurting yourself in some way"),
            ]
            return Codes(
                panel: FHIR.Coding(
                    system: FHIR.loinc, code: "44249-1", display: "PHQ-9 quick depression assessment panel"),
                total: FHIR.Coding(
                    system: FHIR.loinc, code: "44261-6",
                    display: "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]"),
                items: items.map { FHIR.Coding(system: FHIR.loinc, code: $0.0, display: $0.1) }, instrument: instrument)
        case .gad7:
            let items: [(String, String)] = [
                ("69725-0", "Feeling nervous, anxious or on edge"),
                ("68509-9", "Not being able to stop or control worrying"),
                ("69733-4", "Worrying too much about different things"),
                ("69734-2", "Trouble relaxing"),
                ("69735-9", "Being so restless that it is hard to sit still"),
                ("69689-8", "Becoming easily annoyed or irritable"),
                ("69736-7", "Feeling afraid as if something awful might happen"),
            ]
            return Codes(
                panel: FHIR.Coding(
                    system: FHIR.loinc, code: "69737-5", display: "Generalized anxiety disorder 7 item (GAD-7)"),
                total: FHIR.Coding(
                    system: FHIR.loinc, code: "70274-6",
                    display: "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]"),
                items: items.map { FHIR.Coding(system: FHIR.loinc, code: $0.0, display: $0.1) }, instrument: instrument)
        case .madrs:
            let names = [
                "Apparent sadness", "Reported sadness", "Inner tension", "Reduced sleep", "Reduced appetite",
                "Concentration difficulties", "Lassitude", "Inability to feel", "Pessimistic thoughts",
                "Suicidal thoughts",
            ]
            return Codes(
                panel: FHIR.Coding(
                    system: FHIR.instrumentSystem, code: "madrs", display: "Montgomery-Asberg Depression Rating Scale"),
                total: FHIR.Coding(system: FHIR.instrumentSystem, code: "madrs-total", display: "MADRS total score"),
                items: names.enumerated().map {
                    FHIR.Coding(system: FHIR.instrumentSystem, code: "madrs-item-\($0.offset + 1)", display: $0.element)
                }, instrument: instrument)
        }
    }

    /// The instrument a search's `code` names: a LOINC panel code, CareRelay's, or either with
    /// its system (`http://loinc.org|44249-1`).
    static func instrument(searching code: String) -> Instrument? {
        let parts = code.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let (system, value) = parts.count == 2 ? (parts[0], parts[1]) : (nil, parts[0])
        return Instrument.allCases.first { instrument in
            let panel = codes(instrument).panel
            return panel.code == value && (system == nil || system == "" || system == panel.system)
        }
    }

    /// The item whose answer above 0 is a safety signal (PHQ-9 item 9, MADRS item 10).
    static func safetyItem(_ instrument: Instrument) -> Int? {
        switch instrument {
        case .phq9: 8
        case .madrs: 9
        case .gad7: nil
        }
    }
}

extension FHIR.Observation {
    init(_ item: MeasurementItem, patientID: UUID) {
        self.init(
            id: item.id, instrument: item.instrument, total: item.total, items: item.items,
            safetySignal: item.safetySignal, takenAt: item.takenAt, enteredInError: item.enteredInError?.reason,
            patientID: patientID)
        meta = .updated(item.updatedAt)
    }

    /// A score just recorded (POST Observation or QuestionnaireResponse).
    init(id: UUID, score: Score, takenAt: Date, patientID: UUID) {
        self.init(
            id: id, instrument: score.instrument, total: score.total, items: score.items,
            safetySignal: score.isSafetySignal, takenAt: takenAt, enteredInError: nil, patientID: patientID)
    }

    init(
        id: UUID, instrument: Instrument, total: Int, items: [Int]?, safetySignal: Bool, takenAt: Date,
        enteredInError: String?, patientID: UUID
    ) {
        let codes = InstrumentCoding.codes(instrument)
        // The codes' concepts are shared (made once): only what differs per score is made here.
        var components = [FHIR.Observation.Component]()
        components.reserveCapacity(1 + (items?.count ?? 0))
        components.append(FHIR.Observation.Component(code: codes.totalConcept, valueInteger: total))
        if let answers = items {
            let safetyItem = InstrumentCoding.safetyItem(instrument)
            for (index, answer) in answers.enumerated() where index < codes.itemConcepts.count {
                let flagged = index == safetyItem && answer > 0
                components.append(
                    FHIR.Observation.Component(
                        code: codes.itemConcepts[index], valueInteger: answer,
                        interpretation: flagged ? [InstrumentCoding.abnormal] : nil))
            }
        }
        var interpretation = [
            codes.severityConcept((try? Score(instrument, total: total))?.severity ?? .severe)
        ]
        if safetySignal { interpretation.append(InstrumentCoding.abnormal) }
        self.init(
            id: id.lowercasedString,
            status: enteredInError == nil ? "final" : "entered-in-error",
            category: InstrumentCoding.category,
            code: codes.panelConcept,
            subject: FHIR.Reference(reference: "Patient/\(patientID.lowercasedString)"),
            effectiveDateTime: FHIR.dateTime(takenAt),
            interpretation: interpretation,
            note: enteredInError.map { [FHIR.Annotation(text: "Entered in error: \($0)")] },
            component: components)
    }
}

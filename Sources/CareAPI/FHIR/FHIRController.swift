import CareDomain
import CareStore
import CoreFormats
import Foundation
import HTTPTypes
import Hummingbird

/// FHIR R4 at /fhir/R4 (docs/fhir.md): CareRelay's own records in FHIR's shapes, through the same
/// store commands as /v1, so the same tokens, team scoping (another team's resource is 404),
/// row-level security and audit entries apply. Errors are OperationOutcomes (ProblemMiddleware).
struct FHIRController: Sendable {
    let store: CareStore

    static let version = "4.0.1"

    /// GET /fhir/R4/metadata needs no token (clients read it before they have one).
    func addPublicRoutes(to fhir: RouterGroup<CareRequestContext>) {
        fhir.get("metadata", use: metadata)
    }

    func addRoutes(to fhir: RouterGroup<CareRequestContext>) {
        fhir.get("Patient", use: searchPatients)
        fhir.get("Patient/:id", use: readPatient)
        fhir.get("Patient/:id/$everything", use: everything)
        fhir.get("Observation", use: searchObservations)
        fhir.post("Observation", use: createObservation)
        fhir.post("QuestionnaireResponse", use: createQuestionnaireResponse)
        fhir.get("Observation/:id", use: readObservation)
        fhir.get("MedicationStatement", use: searchMedicationStatements)
        fhir.get("MedicationStatement/:id", use: readMedicationStatement)
        fhir.get("Procedure", use: searchProcedures)
        fhir.get("Procedure/:id", use: readProcedure)
        fhir.get("ServiceRequest", use: searchServiceRequests)
        fhir.get("ServiceRequest/:id", use: readServiceRequest)
        fhir.get("Task", use: searchTasks)
        fhir.get("Task/:id", use: readTask)
        fhir.get("CareTeam", use: searchCareTeams)
        fhir.get("CareTeam/:id", use: readCareTeam)
        fhir.get("CarePlan", use: searchCarePlans)
        fhir.get("CarePlan/:id", use: readCarePlan)
        fhir.get("Provenance", use: searchProvenance)
        fhir.get("AuditEvent", use: searchAuditEvents)
        fhir.get("AuditEvent/:id", use: readAuditEvent)
        fhir.get("DocumentReference", use: searchDocuments)
        fhir.get("DocumentReference/:id", use: readDocument)
    }

    // MARK: What is served

    struct SearchParameter: Encodable {
        var name: String
        var type: String
        var documentation: String
    }

    /// What each resource type supports: the CapabilityStatement says exactly this, and a
    /// search parameter not listed here is refused (400), never ignored.
    static let resources: [(type: String, interactions: [String], search: [SearchParameter])] = [
        (
            "Patient", ["read", "search-type"],
            [
                SearchParameter(name: "_id", type: "token", documentation: "The patient's id."),
                SearchParameter(
                    name: "identifier", type: "token",
                    documentation: "The MRN, alone or as \(FHIR.mrnSystem)|MRN (exact match)."),
                SearchParameter(name: "name", type: "string", documentation: "Any part of the name or MRN, any case."),
            ]
        ),
        (
            "Observation", ["read", "search-type", "create"],
            [
                SearchParameter(
                    name: "patient", type: "reference", documentation: "Required: Patient/{id} or the id."),
                SearchParameter(
                    name: "code", type: "token",
                    documentation:
                        """
                        The instrument's panel code: 44249-1 (PHQ-9), 69737-5 (GAD-7), madrs \
                        (\(FHIR.instrumentSystem)); with or without its system.
                        """
                ),
                SearchParameter(
                    name: "date", type: "date",
                    documentation:
                        """
                        When the score was taken (effectiveDateTime): a date or an instant, with eq (the default), ne, \
                        gt, ge, lt, le, sa or eb before it; repeat it for a range (both must hold).
                        """
                ),
                SearchParameter(
                    name: "_sort", type: "special",
                    documentation:
                        """
                        date (oldest taken first, the default) or -date (newest first: _sort=-date&_count=1 is the \
                        latest score).
                        """
                ),
            ]
        ),
        ("QuestionnaireResponse", ["create"], []),
        (
            "MedicationStatement", ["read", "search-type"],
            [SearchParameter(name: "patient", type: "reference", documentation: "Required: Patient/{id} or the id.")]
        ),
        (
            "Procedure", ["read", "search-type"],
            [SearchParameter(name: "patient", type: "reference", documentation: "Required: Patient/{id} or the id.")]
        ),
        (
            "ServiceRequest", ["read", "search-type"],
            [
                SearchParameter(name: "patient", type: "reference", documentation: "Required: Patient/{id} or the id."),
                SearchParameter(
                    name: "status", type: "token",
                    documentation: "active, completed, revoked or entered-in-error; several with commas."),
            ]
        ),
        (
            "Task", ["read", "search-type"],
            [
                SearchParameter(name: "patient", type: "reference", documentation: "Required: Patient/{id} or the id."),
                SearchParameter(
                    name: "status", type: "token",
                    documentation:
                        """
                        requested, accepted, in-progress, on-hold, completed, cancelled or failed; several with commas.
                        """
                ),
            ]
        ),
        (
            "CareTeam", ["read", "search-type"],
            [SearchParameter(name: "patient", type: "reference", documentation: "Required: the patient's team.")]
        ),
        (
            "CarePlan", ["read", "search-type"],
            [
                SearchParameter(
                    name: "patient", type: "reference",
                    documentation: "Required: the patient's plan (one per patient; its id is the patient's).")
            ]
        ),
        (
            "DocumentReference", ["read", "search-type"],
            [
                SearchParameter(
                    name: "patient", type: "reference",
                    documentation:
                        "Required: the patient's team-visible notes, newest first (never psychotherapy notes).")
            ]
        ),
        (
            "Provenance", ["search-type"],
            [
                SearchParameter(
                    name: "patient", type: "reference",
                    documentation: "Required: who recorded what on the patient's record, newest first.")
            ]
        ),
        (
            "AuditEvent", ["read", "search-type"],
            [
                SearchParameter(
                    name: "patient", type: "reference",
                    documentation:
                        """
                        Required: who read or changed the patient's records, newest first (the compliance role and \
                        others allowed to read the audit trail).
                        """
                )
            ]
        ),
        // A Group is a care team, for its bulk export only.
        ("Group", [], []),
    ]
    static let common = ["_count", "_cursor", "_format"]
    /// `_lastUpdated` on the resources that carry meta.lastUpdated.
    static let lastUpdated = SearchParameter(
        name: "_lastUpdated", type: "date",
        documentation:
            """
            When the record last changed (meta.lastUpdated): a date or an instant, with eq (the default), ne, gt, ge, \
            lt, le, sa or eb before it; repeat it for a range (both must hold).
            """
    )
    static let withLastUpdated: Set<String> = [
        "Patient", "Observation", "MedicationStatement", "Procedure", "ServiceRequest", "Task", "CarePlan",
        "DocumentReference",
    ]
    /// The search parameters of `type`: its own, and `_lastUpdated` where it applies.
    static func searchParameters(_ type: String) -> [SearchParameter] {
        let own = resources.first { $0.type == type }?.search ?? []
        return withLastUpdated.contains(type) ? own + [lastUpdated] : own
    }
    /// Operations, by the resource type they are on; `instance`: on one resource (Patient/{id}),
    /// else on the type (Patient/$export).
    static let operations: [(type: String, name: String, definition: String, instance: Bool)] = [
        ("Patient", "everything", "http://hl7.org/fhir/OperationDefinition/Patient-everything", true),
        ("Patient", "export", "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export", false),
        ("Group", "export", "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export", true),
    ]
    /// Bulk Data's status and file URLs: not resources, reached from a kick-off's
    /// Content-Location and from the manifest (FHIRExportController).
    static let bulkDataPaths = ["bulk-status/{id}", "bulk-files/{id}/{part}"]

    struct CapabilityStatement: Encodable {
        struct Software: Encodable {
            var name: String
        }
        struct Implementation: Encodable {
            var description: String
            /// This installation's FHIR base: the public URL when the operator set one.
            var url: String
        }
        struct Rest: Encodable {
            struct Security: Encodable {
                var description: String
            }
            struct Resource: Encodable {
                struct Interaction: Encodable { var code: String }
                struct Operation: Encodable {
                    var name: String
                    var definition: String
                }
                var type: String
                var interaction: [Interaction]?
                var searchParam: [SearchParameter]?
                var operation: [Operation]?
            }
            var mode = "server"
            var security: Security
            var resource: [Resource]
        }
        let resourceType = "CapabilityStatement"
        /// Bulk Data Access 2.0's server capabilities ($export on Patient and Group).
        var instantiates = ["http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"]
        var status = "active"
        var date: String
        var kind = "instance"
        var software = Software(name: "CareRelay")
        var implementation: Implementation
        var fhirVersion = FHIRController.version
        var format = ["json"]
        var rest: [Rest]
    }

    @Sendable func metadata(_ request: Request, context: CareRequestContext) async throws -> Response {
        let statement = CapabilityStatement(
            date: Self.published,
            implementation: .init(
                description:
                    """
                    CareRelay's care-team records (treatment-resistant depression) as FHIR R4; docs/fhir.md maps them
                    """,
                url: FHIRSearch.base(request, publicURL: context.publicURL)),
            rest: [
                .init(
                    security: .init(
                        description:
                            """
                            Bearer tokens (Authorization: Bearer crt_...), the same as /v1: a member sees their own \
                            teams' patients only; psychotherapy notes are never served.
                            """
                    ),
                    resource: Self.resources.map { resource in
                        let operations = Self.operations.filter { $0.type == resource.type }.map {
                            CapabilityStatement.Rest.Resource.Operation(name: $0.name, definition: $0.definition)
                        }
                        // FHIR has no empty arrays: a list with nothing in it is left out.
                        return .init(
                            type: resource.type,
                            interaction: resource.interactions.isEmpty
                                ? nil : resource.interactions.map { .init(code: $0) },
                            searchParam: resource.search.isEmpty ? nil : Self.searchParameters(resource.type),
                            operation: operations.isEmpty ? nil : operations)
                    })
            ])
        return try Self.json(statement)
    }

    /// When this CapabilityStatement last changed.
    static let published = "2026-12-01"

    // MARK: Patient

    @Sendable func readPatient(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try Self.id(context)
        let summary = try await context.acting("fhir.patient.read", request, patient: id) { caller in
            try await store.patientSummary(id, by: caller)
        }
        return try Self.json(FHIR.Patient(summary))
    }

    @Sendable func searchPatients(_ request: Request, context: CareRequestContext) async throws -> Response {
        let search = try FHIRSearch(request, context, resource: "Patient")
        var text = try search.string("name")
        var exactMRN: String?
        if let identifier = try search.string("identifier") {
            let parts = identifier.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false).map(
                String.init)
            if parts.count == 2, !parts[0].isEmpty, parts[0] != FHIR.mrnSystem {
                return try Self.json(search.bundle([FHIR.Patient](), next: nil) { $0.id })
            }
            exactMRN = parts.last
            text = text ?? exactMRN
        }
        if let id = try search.string("_id") {
            guard let uuid = UUID(hyphenated: id) else {
                return try Self.json(search.bundle([FHIR.Patient](), next: nil) { $0.id })
            }
            text = uuid.lowercasedString
        }
        let page = try await context.acting("fhir.patient.search", request) { caller in
            try await search.collect(updated: \.updatedAt, id: \.id.lowercasedString) { cursor, limit in
                try await store.patients(
                    search: text, limit: limit, after: cursor.flatMap(UUID.init(hyphenated:)), by: caller)
            }
        }
        let items = page.items.filter { item in exactMRN.map { item.mrn == $0 } ?? true }
        return try Self.json(search.bundle(items.map(FHIR.Patient.init), next: page.next) { $0.id })
    }

    // MARK: Observation

    @Sendable func readObservation(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try Self.id(context)
        let (patient, item) = try await context.acting("fhir.observation.read", request) { caller in
            try await store.measurement(id, by: caller)
        }
        return try Self.json(FHIR.Observation(item, patientID: patient))
    }

    @Sendable func searchObservations(_ request: Request, context: CareRequestContext) async throws -> Response {
        let search = try FHIRSearch(request, context, resource: "Observation")
        let patient = try search.patient()
        var instrument: Instrument?
        if let code = try search.string("code") {
            guard let named = InstrumentCoding.instrument(searching: code) else {
                // A code CareRelay never records matches nothing.
                return try Self.json(search.bundle([FHIR.Observation](), next: nil) { $0.id })
            }
            instrument = named
        }
        let newestFirst: Bool
        switch try search.string("_sort") {
        case nil, "date": newestFirst = false
        case "-date": newestFirst = true
        case let other?:
            throw Problem.badRequest(
                "Observation searches sort by date (oldest first) or -date (newest first), not '\(other)'")
        }
        // `date`: when the score was taken (a trend since a visit), filtered as `_lastUpdated` is.
        let dates = request.uri.queryParameters[values: "date"].map(String.init)
        let taken = dates.isEmpty ? nil : try DateFilter("date", dates)
        let page = try await context.acting("fhir.observation.search", request, patient: patient) { caller in
            try await search.collect(
                updated: \.updatedAt, also: taken.map { filter in { filter.matches($0.takenAt) } },
                id: \.id.lowercasedString
            ) { cursor, limit in
                try await store.measurements(
                    patientID: patient, includeEnteredInError: true, instrument: instrument, newestFirst: newestFirst,
                    limit: limit, after: cursor.flatMap(UUID.init(hyphenated:)), by: caller)
            }
        }
        return try Self.json(
            search.bundle(page.items.map { FHIR.Observation($0, patientID: patient) }, next: page.next) { $0.id })
    }

    // MARK: Trials, referrals, tasks

    /// A trial read as the resource its kind is served as; the other kind's path is 404.
    func readTrial<R: Encodable>(
        _ request: Request, _ context: CareRequestContext, medication: Bool, _ make: (TrialSummary, UUID) -> R
    ) async throws -> Response {
        let id = try Self.id(context)
        let (patient, trials) = try await context.acting("fhir.trial.read", request) { caller in
            let patient = try await store.patientOf(.trials, id, by: caller)
            return (patient, try await store.trials(patientID: patient, by: caller))
        }
        guard let trial = trials.first(where: { $0.id == id && $0.isMedication == medication }) else {
            throw Problem.notFound("no \(medication ? "MedicationStatement" : "Procedure") \(id.lowercasedString)")
        }
        return try Self.json(make(trial, patient))
    }

    func searchTrials<R: Encodable>(
        _ request: Request, _ context: CareRequestContext, resource: String, medication: Bool,
        _ make: (TrialSummary, UUID) -> R
    ) async throws -> Response {
        let search = try FHIRSearch(request, context, resource: resource)
        let patient = try search.patient()
        let trials = try await context.acting("fhir.trial.search", request, patient: patient) { caller in
            try await store.trials(patientID: patient, by: caller)
        }.filter { $0.isMedication == medication && search.updatedMatches($0.updatedAt) }
        let (page, next) = search.page(trials) { $0.id }
        return try Self.json(
            search.bundle(page.map { make($0, patient) }, ids: page.map(\.id.lowercasedString), next: next))
    }

    @Sendable func readMedicationStatement(_ request: Request, context: CareRequestContext) async throws -> Response {
        try await readTrial(request, context, medication: true, FHIR.MedicationStatement.init)
    }

    @Sendable func searchMedicationStatements(_ request: Request, context: CareRequestContext) async throws -> Response
    {
        try await searchTrials(
            request, context, resource: "MedicationStatement", medication: true, FHIR.MedicationStatement.init)
    }

    @Sendable func readProcedure(_ request: Request, context: CareRequestContext) async throws -> Response {
        try await readTrial(request, context, medication: false, FHIR.Procedure.init)
    }

    @Sendable func searchProcedures(_ request: Request, context: CareRequestContext) async throws -> Response {
        try await searchTrials(request, context, resource: "Procedure", medication: false, FHIR.Procedure.init)
    }

    @Sendable func readServiceRequest(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try Self.id(context)
        let (patient, referrals) = try await context.acting("fhir.referral.read", request) { caller in
            let patient = try await store.patientOf(.referrals, id, by: caller)
            return (patient, try await store.referrals(patientID: patient, by: caller))
        }
        guard let referral = referrals.first(where: { $0.id == id }) else {
            throw Problem.notFound("no ServiceRequest \(id.lowercasedString)")
        }
        return try Self.json(FHIR.ServiceRequest(referral, patientID: patient))
    }

    @Sendable func searchServiceRequests(_ request: Request, context: CareRequestContext) async throws -> Response {
        let search = try FHIRSearch(request, context, resource: "ServiceRequest")
        let patient = try search.patient()
        let statuses = try search.tokens("status", allowed: ExportFilters.referralStatuses)
        let referrals = try await context.acting("fhir.referral.search", request, patient: patient) { caller in
            try await store.referrals(patientID: patient, by: caller)
        }
        let resources = referrals.filter { search.updatedMatches($0.updatedAt) }.map {
            FHIR.ServiceRequest($0, patientID: patient)
        }.filter { statuses.map(Set.init)?.contains($0.status) ?? true }
        let (page, next) = search.page(resources) { UUID(hyphenated: $0.id)! }
        return try Self.json(search.bundle(page, next: next) { $0.id })
    }

    @Sendable func readTask(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try Self.id(context)
        let task = try await context.acting("fhir.task.read", request) { caller in
            try await store.task(id, by: caller)
        }
        return try Self.json(FHIR.Task(task))
    }

    @Sendable func searchTasks(_ request: Request, context: CareRequestContext) async throws -> Response {
        let search = try FHIRSearch(request, context, resource: "Task")
        let patient = try search.patient()
        let statuses = try search.tokens("status", allowed: TaskStatus.allCases.map(\.rawValue)).map {
            $0.compactMap(TaskStatus.init(rawValue:))
        }
        let page = try await context.acting("fhir.task.search", request, patient: patient) { caller in
            try await search.collect(updated: \.updatedAt, id: \.id.lowercasedString) { cursor, limit in
                try await store.patientTasks(
                    patientID: patient, status: statuses, limit: limit, after: cursor.flatMap(UUID.init(hyphenated:)),
                    withCauses: true, by: caller)
            }
        }
        return try Self.json(search.bundle(page.items.map(FHIR.Task.init), next: page.next) { $0.id })
    }

    // MARK: Care team, care plan, notes

    @Sendable func readCareTeam(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try Self.id(context)
        let team = try await context.acting("fhir.careteam.read", request) { caller in
            try await store.careTeam(teamID: id, by: caller)
        }
        return try Self.json(FHIR.CareTeam(teamID: id, name: team.name, members: team.members))
    }

    @Sendable func searchCareTeams(_ request: Request, context: CareRequestContext) async throws -> Response {
        let search = try FHIRSearch(request, context, resource: "CareTeam")
        let patient = try search.patient()
        let (teamID, team) = try await context.acting("fhir.careteam.search", request, patient: patient) { caller in
            let teamID = try await store.teamOf(patientID: patient, by: caller)
            return (teamID, try await store.careTeam(teamID: teamID, by: caller))
        }
        let resources =
            search.cursor == nil ? [FHIR.CareTeam(teamID: teamID, name: team.name, members: team.members)] : []
        return try Self.json(search.bundle(resources, next: nil) { $0.id })
    }

    func carePlan(_ patient: UUID, _ request: Request, _ context: CareRequestContext, action: String) async throws
        -> FHIR.CarePlan
    {
        let open: [TaskStatus] = [.requested, .accepted, .inProgress, .onHold]
        let (plan, tasks) = try await context.acting(action, request, patient: patient) { caller in
            (
                try await store.carePlan(patientID: patient, by: caller),
                try await store.patientTasks(patientID: patient, status: open, limit: 200, by: caller)
            )
        }
        return FHIR.CarePlan(plan, openTasks: tasks.items.map(\.id))
    }

    @Sendable func readCarePlan(_ request: Request, context: CareRequestContext) async throws -> Response {
        try Self.json(try await carePlan(try Self.id(context), request, context, action: "fhir.careplan.read"))
    }

    @Sendable func searchCarePlans(_ request: Request, context: CareRequestContext) async throws -> Response {
        let search = try FHIRSearch(request, context, resource: "CarePlan")
        let patient = try search.patient()
        let plan = try await carePlan(patient, request, context, action: "fhir.careplan.search")
        let matches =
            search.cursor == nil && search.updatedMatches(plan.meta.lastUpdated.flatMap { Timestamp.parse($0) })
        return try Self.json(search.bundle(matches ? [plan] : [], next: nil) { $0.id })
    }

    @Sendable func readDocument(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try Self.id(context)
        let (patient, note) = try await context.acting("fhir.note.read", request) { caller in
            let patient = try await store.patientOf(.notes, id, by: caller)
            var after: UUID?
            // The patient's team-visible notes, page by page, until this one.
            while true {
                let page = try await store.notes(
                    patientID: patient, includeEnteredInError: true, includePsychotherapy: false, limit: 200,
                    after: after, by: caller)
                if let note = page.items.first(where: { $0.id == id }) { return (patient, note) }
                guard let next = page.next.flatMap(UUID.init(hyphenated:)) else {
                    throw Problem.notFound("no DocumentReference \(id.lowercasedString)")
                }
                after = next
            }
        }
        return try Self.json(FHIR.DocumentReference(note, patientID: patient))
    }

    @Sendable func searchDocuments(_ request: Request, context: CareRequestContext) async throws -> Response {
        let search = try FHIRSearch(request, context, resource: "DocumentReference")
        let patient = try search.patient()
        let page = try await context.acting("fhir.note.search", request, patient: patient) { caller in
            try await search.collect(updated: \.updatedAt, id: \.id.lowercasedString) { cursor, limit in
                try await store.notes(
                    patientID: patient, includeEnteredInError: true, includePsychotherapy: false, limit: limit,
                    after: cursor.flatMap(UUID.init(hyphenated:)), by: caller)
            }
        }
        return try Self.json(
            search.bundle(page.items.map { FHIR.DocumentReference($0, patientID: patient) }, next: page.next) { $0.id })
    }

    // MARK: Audit

    @Sendable func readAuditEvent(_ request: Request, context: CareRequestContext) async throws -> Response {
        guard let text = context.parameters.get("id"), let id = Int64(text), id > 0 else {
            throw Problem.notFound("no such AuditEvent: its id is a number")
        }
        let entry = try await context.acting("fhir.audit.read", request) { caller in
            try await store.auditEntry(id, by: caller)
        }
        return try Self.json(FHIR.AuditEvent(entry))
    }

    @Sendable func searchAuditEvents(_ request: Request, context: CareRequestContext) async throws -> Response {
        let search = try FHIRSearch(request, context, resource: "AuditEvent")
        let patient = try search.patient()
        let before = try search.numberCursor()
        let page = try await context.acting("fhir.audit.search", request, patient: patient) { caller in
            try await store.audit(patientID: patient, limit: search.count, before: before, by: caller)
        }
        return try Self.json(search.bundle(page.items.map(FHIR.AuditEvent.init), next: page.next) { $0.id })
    }

    // MARK: Provenance

    @Sendable func searchProvenance(_ request: Request, context: CareRequestContext) async throws -> Response {
        let search = try FHIRSearch(request, context, resource: "Provenance")
        let patient = try search.patient()
        let before = try search.numberCursor()
        let (page, trials) = try await context.acting("fhir.provenance.search", request, patient: patient) { caller in
            (
                try await store.patientEventsPage(patient, before: before, limit: search.count, by: caller),
                try await store.trials(patientID: patient, by: caller)
            )
        }
        let medication = Set(trials.filter(\.isMedication).map(\.id.lowercasedString))
        let resources = page.items.compactMap {
            FHIR.Provenance($0, patientID: patient, medicationTrials: medication)
        }
        return try Self.json(search.bundle(resources, next: page.next) { $0.id })
    }

    // MARK: $everything

    /// GET Patient/{id}/$everything: the patient's whole team-visible record in one Bundle: the
    /// patient, their care team and plan, scores, trials, referrals, tasks and team-visible notes
    /// (never psychotherapy notes). Each part is read and audited as its own search is.
    @Sendable func everything(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try Self.id(context)
        for (name, _) in request.uri.queryParameters where !["_format"].contains(String(name)) {
            throw Problem.badRequest("Patient/$everything takes no '\(name)' here: it returns the whole record")
        }
        let resources = try await context.acting("fhir.patient.everything", request, patient: id) { caller in
            try await everything(of: id, by: caller)
        }
        let search = try FHIRSearch(request, context, resource: "Patient", checked: false)
        let base = search.base
        let bundle = FHIR.Bundle(
            link: [.init(relation: "self", url: "\(base)/Patient/\(id.lowercasedString)/$everything")],
            base: base + "/", resources: resources, paths: resources.map { $0.type + "/" + $0.id })
        return try Self.json(bundle)
    }

    /// The record in one transaction, in the order FHIR readers expect: the Patient first, then
    /// the CareTeam, the CarePlan and the clinical records, type by type.
    func everything(of patient: UUID, by caller: Caller) async throws -> [FHIR.AnyResource] {
        var record = try await store.patientRecord(patient, by: caller)
        record.records.patients = [record.patient]
        let team = record.patient.teamID
        var resources = record.records.resources(types: ["Patient"])
        resources.append(
            .init(
                "CareTeam", team.lowercasedString,
                FHIR.CareTeam(teamID: team, name: record.teamName, members: record.members)))
        resources += record.records.resources(types: Set(FHIRExportController.types).subtracting(["Patient"]))
        return resources
    }

    // MARK: Helpers

    static func id(_ context: CareRequestContext) throws -> UUID {
        guard let text = context.parameters.get("id"), let id = UUID(hyphenated: text) else {
            throw Problem.notFound("no such resource: its id must be a UUID")
        }
        return id
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(
            status: status, headers: [.contentType: FHIR.contentType],
            body: .init(byteBuffer: ByteBuffer(bytes: try encoded(value))))
    }

    /// A resource's JSON, by hand where FHIRWriting has it, else by the encoder (sorted keys).
    static func encoded(_ value: some Encodable) throws -> [UInt8] {
        if let writable = value as? any JSONWritable {
            var writer = JSONWriter(capacity: 64 << 10)
            writable.write(to: &writer)
            return writer.bytes
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }
}

/// A FHIR search's parameters: the resource's own (CapabilityStatement), `_count` (page size,
/// 1 to 200) and `_cursor` (where the next page starts, from the Bundle's `next` link). Any
/// other parameter is refused, so a client never gets a wider answer than it asked for.
struct FHIRSearch {
    let request: Request
    let parameters: QueryParameters
    let count: Int
    /// Where the page starts: a record's id (most lists) or a number (the audit trail).
    let cursorText: String?
    var cursor: UUID? { cursorText.flatMap(UUID.init(hyphenated:)) }
    /// `_lastUpdated`, when asked for.
    let updated: DateFilter?

    /// The operator's public URL for this server (`--public-url`), when set.
    let publicURL: String?

    init(_ request: Request, _ context: CareRequestContext, resource: String, checked: Bool = true) throws {
        self.request = request
        publicURL = context.publicURL
        parameters = QueryParameters(request)
        guard checked else {
            count = 50
            cursorText = nil
            updated = nil
            return
        }
        let known = Set(FHIRController.searchParameters(resource).map(\.name) + FHIRController.common)
        for (name, _) in request.uri.queryParameters where !known.contains(String(name)) {
            throw Problem.badRequest(
                """
                \(resource) searches do not support '\(name)': they support \(known.sorted().joined(separator: ", ")) \
                (GET /fhir/R4/metadata)
                """
            )
        }
        if let format = try parameters.string("_format"),
            !["json", "application/json", "application/fhir+json"].contains(format)
        {
            throw Problem.badRequest("'_format' can only be json")
        }
        count = try parameters.int("_count", default: 50, range: 1...APILimits.maximumPageSize)
        if let text = try parameters.string("_cursor", maxLength: 64) {
            guard UUID(hyphenated: text) != nil || Int64(text).map({ $0 > 0 }) == true else {
                throw Problem.badRequest("'_cursor' must come from a Bundle's next link")
            }
            cursorText = text
        } else {
            cursorText = nil
        }
        let lastUpdated = request.uri.queryParameters[values: "_lastUpdated"].map(String.init)
        updated = lastUpdated.isEmpty ? nil : try DateFilter("_lastUpdated", lastUpdated)
    }

    /// Whether a record last changed at `date` is what `_lastUpdated` asks for (all are, without it).
    func updatedMatches(_ date: Date?) -> Bool { updated?.matches(date) ?? true }

    /// A page of a keyset list: one read of `count` without `_lastUpdated` (or `also`, another
    /// filter of the resource's own); with one, store pages are read until `count` records match
    /// (or the list ends, or 20 pages were read: then the next link goes on from the last one read).
    func collect<T: Sendable>(
        updated date: (T) -> Date?, also other: ((T) -> Bool)? = nil, id: (T) -> String,
        _ read: (String?, Int) async throws -> Page<T>
    ) async throws -> Page<T> {
        guard updated != nil || other != nil else { return try await read(cursorText, count) }
        var items: [T] = []
        var cursor = cursorText
        for _ in 0..<20 {
            let page = try await read(cursor, APILimits.maximumPageSize)
            for (index, item) in page.items.enumerated() where updatedMatches(date(item)) && other?(item) ?? true {
                items.append(item)
                if items.count == count {
                    let more = index < page.items.count - 1 || page.next != nil
                    return Page(items: items, next: more ? id(item) : nil)
                }
            }
            guard let next = page.next else { return Page(items: items, next: nil) }
            cursor = next
        }
        return Page(items: items, next: cursor)
    }

    func string(_ name: String) throws -> String? {
        try parameters.string(name)
    }

    /// A numeric cursor (the audit trail's).
    func numberCursor() throws -> Int64? {
        guard let cursorText else { return nil }
        guard let number = Int64(cursorText) else {
            throw Problem.badRequest("'_cursor' must come from a Bundle's next link")
        }
        return number
    }

    /// The `patient` a search is about (required): Patient/{id} or the id.
    func patient() throws -> UUID {
        guard let reference = try string("patient") else {
            throw Problem.badRequest("this search needs 'patient' (Patient/{id})")
        }
        let text = reference.hasPrefix("Patient/") ? String(reference.dropFirst("Patient/".count)) : reference
        guard let id = UUID(hyphenated: text) else {
            throw Problem.badRequest("'patient' must be Patient/{id}, such as Patient/\(Request.exampleID)")
        }
        return id
    }

    /// A token parameter's values (comma-separated: any of them), each one of `allowed`.
    func tokens(_ name: String, allowed: [String]) throws -> [String]? {
        guard let text = try string(name) else { return nil }
        let values = text.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        if let unknown = values.first(where: { !allowed.contains($0) }) {
            throw Problem.badRequest(
                "'\(name)' cannot be '\(unknown)': it is one of \(allowed.joined(separator: ", "))")
        }
        return values
    }

    /// A page of a list read whole: the items after the cursor's, and the next cursor.
    func page<T>(_ all: [T], id: (T) -> UUID) -> ([T], String?) {
        var rest = all[...]
        if let cursor {
            guard let index = all.firstIndex(where: { id($0) == cursor }) else { return ([], nil) }
            rest = all[(index + 1)...]
        }
        let items = Array(rest.prefix(count))
        return (items, rest.count > count ? items.last.map { id($0).lowercasedString } : nil)
    }

    /// The base URL of this server's FHIR API, for fullUrl, Bundle links and export locations.
    var base: String { Self.base(request, publicURL: publicURL) }

    /// The operator's public URL (`--public-url`, docs/operations.md) when set; else as the
    /// client reached this server (its Host, and https when a proxy says so in X-Forwarded-Proto).
    static func base(_ request: Request, publicURL: String?) -> String {
        if let publicURL { return publicURL + "/fhir/R4" }
        let scheme = request.headers[HTTPField.Name("X-Forwarded-Proto")!] == "https" ? "https" : "http"
        let host = request.head.authority ?? "localhost"
        return "\(scheme)://\(host)/fhir/R4"
    }

    func bundle<Resource: Encodable>(_ resources: [Resource], next: String?, id: (Resource) -> String)
        -> FHIR.Bundle<Resource>
    {
        bundle(resources, ids: resources.map(id), next: next)
    }

    func bundle<Resource: Encodable>(_ resources: [Resource], ids: [String], next: String?) -> FHIR.Bundle<Resource> {
        let type = request.uri.path.split(separator: "/").last.map(String.init) ?? ""
        let base = self.base
        var query = request.uri.queryParameters.filter { $0.key != "_cursor" }
            .map { "\($0.key)=\(Self.escape(String($0.value)))" }.sorted()
        var links = [
            FHIR.Bundle<Resource>.Link(relation: "self", url: "\(base)/\(type)?\(query.joined(separator: "&"))")
        ]
        if let next {
            query.append("_cursor=\(next)")
            links.append(.init(relation: "next", url: "\(base)/\(type)?\(query.joined(separator: "&"))"))
        }
        return FHIR.Bundle(link: links, base: "\(base)/\(type)/", resources: resources, paths: ids)
    }

    static func escape(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~")))
            ?? value
    }
}

extension Problem {
    /// The problem as FHIR's OperationOutcome, with the same status.
    func operationOutcome() throws -> Response {
        let code: String
        switch status {
        case 400: code = "invalid"
        case 401: code = "login"
        case 403: code = "forbidden"
        case 404: code = "not-found"
        case 405: code = "not-supported"
        case 409, 412: code = "conflict"
        case 422: code = "invalid"
        case 429: code = "throttled"
        case 503: code = "transient"
        default: code = "exception"
        }
        let outcome = FHIR.OperationOutcome(issue: [
            .init(severity: status >= 500 ? "fatal" : "error", code: code, diagnostics: detail)
        ])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Response(
            status: .init(code: status), headers: headers(contentType: FHIR.contentType),
            body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(outcome))))
    }
}

/// A FHIR date search parameter's values (docs/fhir.md): each a date (YYYY, YYYY-MM, YYYY-MM-DD,
/// in UTC) or an instant with its zone, with an optional prefix; every value must hold.
struct DateFilter {
    struct Condition {
        var prefix: String
        /// The value's range: from `start` up to `end`, by its precision.
        var start: Date
        var end: Date
    }
    static let prefixes = ["eq", "ne", "gt", "ge", "lt", "le", "sa", "eb"]
    var conditions: [Condition]

    init(_ name: String, _ values: [String]) throws {
        conditions = try values.map { raw in
            var text = raw.replacingOccurrences(of: " ", with: "+")
            var prefix = "eq"
            if let first = text.first, first.isLetter {
                prefix = String(text.prefix(2))
                guard Self.prefixes.contains(prefix) else {
                    throw Problem.badRequest(
                        """
                        '\(name)' cannot start with '\(prefix)': its prefixes are \
                        \(Self.prefixes.joined(separator: ", "))
                        """
                    )
                }
                text.removeFirst(2)
            }
            guard let range = Self.range(text) else {
                throw Problem.badRequest(
                    """
                    '\(name)' must be a date (2026-11-01) or an instant with its zone (2026-11-01T09:30:00Z), after an \
                    optional prefix such as ge
                    """
                )
            }
            return Condition(prefix: prefix, start: range.0, end: range.1)
        }
    }

    static func range(_ text: String) -> (Date, Date)? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        if !text.contains("T"), (1...3).contains(parts.count), parts.allSatisfy({ $0.allSatisfy(\.isNumber) }),
            parts[0].count == 4, parts.dropFirst().allSatisfy({ $0.count == 2 })
        {
            let year = Int(parts[0])!
            let month = parts.count > 1 ? Int(parts[1])! : 1
            let day = parts.count > 2 ? Int(parts[2])! : 1
            guard (1...12).contains(month), (1...31).contains(day) else { return nil }
            let start = Timestamp.days(year: year, month: month, day: day)
            let end: Int
            switch parts.count {
            case 1: end = Timestamp.days(year: year + 1, month: 1, day: 1)
            case 2:
                end = Timestamp.days(year: month == 12 ? year + 1 : year, month: month == 12 ? 1 : month + 1, day: 1)
            default: end = start + 1
            }
            return (
                Date(timeIntervalSince1970: Double(start) * 86_400), Date(timeIntervalSince1970: Double(end) * 86_400)
            )
        }
        guard let instant = Timestamp.parse(text, rfc3339: true) else { return nil }
        // To the second, the whole second; with a fraction, that instant (to the microsecond).
        let precision = text.contains(".") ? 0.000_001 : 1
        return (instant, instant.addingTimeInterval(precision))
    }

    func matches(_ date: Date?) -> Bool {
        guard let date else { return false }
        return conditions.allSatisfy { condition in
            let within = condition.start <= date && date < condition.end
            switch condition.prefix {
            case "ne": return !within
            case "gt", "sa": return date >= condition.end
            case "ge": return date >= condition.start
            case "lt", "eb": return date < condition.start
            case "le": return date < condition.end
            default: return within
            }
        }
    }
}

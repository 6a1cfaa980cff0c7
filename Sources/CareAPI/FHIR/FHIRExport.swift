import CareDomain
import CareStore
import CoreFormats
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle

/// FHIR Bulk Data Access 2.0 (docs/fhir.md, "Bulk export"): `Group/{teamId}/$export` and
/// `Patient/$export` kick an export off (202 and a status URL); the status URL answers 202 with
/// X-Progress until the manifest is ready, then the manifest; its NDJSON files are served to the
/// member who asked, until they expire; DELETE on the status URL removes the job and its files.
/// The work itself is `FHIRExportWorker`'s, in any care-server instance.
struct FHIRExportController: Sendable {
    let store: CareStore
    /// Wakes this instance's worker when an export is kicked off here.
    let wake: ChangeSignal

    /// The resource types an export can hold, in the order their files are written.
    static let types = [
        "Patient", "CareTeam", "CarePlan", "Observation", "MedicationStatement", "Procedure", "ServiceRequest", "Task",
        "DocumentReference",
    ]
    static let outputFormats = ["application/fhir+ndjson", "application/ndjson", "ndjson"]
    static let parameters = ["_type", "_since", "_outputFormat", "_typeFilter"]
    /// The most patients one kick-off may name (`patient`).
    static let maximumPatients = 10_000

    func addRoutes(to fhir: RouterGroup<CareRequestContext>) {
        fhir.get("Patient/$export", use: exportPatients)
        fhir.get("Group/:id/$export", use: exportGroup)
        // POST with a Parameters resource: the same parameters, and `patient` (Bulk Data 2.0).
        fhir.post("Patient/$export", use: exportPatients)
        fhir.post("Group/:id/$export", use: exportGroup)
        fhir.get("bulk-status/:id", use: status)
        fhir.delete("bulk-status/:id", use: delete)
        fhir.get("bulk-files/:id/:part", use: file)
    }

    @Sendable func exportPatients(_ request: Request, context: CareRequestContext) async throws -> Response {
        try await kickOff(request, context, teamID: nil)
    }

    @Sendable func exportGroup(_ request: Request, context: CareRequestContext) async throws -> Response {
        guard let text = context.parameters.get("id"), let team = UUID(hyphenated: text) else {
            throw Problem.notFound("no such Group: a Group is a care team, by its id (a UUID)")
        }
        return try await kickOff(request, context, teamID: team)
    }

    /// What a kick-off asks for, from the query (GET) or a Parameters resource (POST).
    struct Asked {
        var types: [String]?
        var since: String?
        var outputFormat: String?
        /// `patient` references (POST only).
        var patients: [String]?
        /// `_typeFilter` values, each one or more comma-separated queries.
        var typeFilters: [String]?
    }

    /// A Parameters resource as a POST kick-off sends it.
    struct Parameters: Decodable {
        struct Parameter: Decodable {
            struct Reference: Decodable { var reference: String? }
            var name: String
            var valueString: String?
            var valueInstant: String?
            var valueReference: Reference?
        }
        var resourceType: String
        var parameter: [Parameter]?
    }

    func asked(_ request: Request, _ context: CareRequestContext) async throws -> Asked {
        guard request.method == .post else {
            for (name, _) in request.uri.queryParameters where !Self.parameters.contains(String(name)) {
                throw Problem.badRequest(
                    name == "patient"
                        ? "'patient' is sent with a POST kick-off, in a Parameters resource (docs/fhir.md)"
                        : """
                        bulk export does not support '\(name)': it supports \(Self.parameters.joined(separator: ", ")) \
                        (docs/fhir.md)
                        """
                )
            }
            let parameters = QueryParameters(request)
            let filters = request.uri.queryParameters.getAll("_typeFilter").map { String($0) }
            return Asked(
                types: try parameters.string("_type").map { [$0] }, since: try parameters.string("_since"),
                outputFormat: try parameters.string("_outputFormat"), typeFilters: filters.isEmpty ? nil : filters)
        }
        if let query = request.uri.query, !query.isEmpty {
            throw Problem.badRequest("a POST kick-off sends its parameters in a Parameters resource, not the query")
        }
        let body = try await request.decodeJSON(Parameters.self, context: context)
        guard body.resourceType == "Parameters" else {
            throw Problem.badRequest("a POST kick-off's body is a Parameters resource, not \(body.resourceType)")
        }
        var asked = Asked()
        for parameter in body.parameter ?? [] {
            func string() throws -> String {
                guard let value = parameter.valueString ?? parameter.valueInstant else {
                    throw Problem.badRequest("the parameter '\(parameter.name)' needs a valueString")
                }
                return value
            }
            switch parameter.name {
            case "_type": asked.types = (asked.types ?? []) + [try string()]
            case "_since":
                guard asked.since == nil else { throw Problem.badRequest("'_since' is given twice") }
                asked.since = try string()
            case "_outputFormat": asked.outputFormat = try string()
            case "_typeFilter": asked.typeFilters = (asked.typeFilters ?? []) + [try string()]
            case "patient":
                guard let reference = parameter.valueReference?.reference else {
                    throw Problem.badRequest("'patient' is a valueReference such as {\"reference\": \"Patient/{id}\"}")
                }
                asked.patients = (asked.patients ?? []) + [reference]
            default:
                throw Problem.badRequest(
                    """
                    bulk export does not support '\(parameter.name)': it supports \
                    \((Self.parameters + ["patient"]).joined(separator: ", ")) (docs/fhir.md)
                    """
                )
            }
        }
        return asked
    }

    func kickOff(_ request: Request, _ context: CareRequestContext, teamID: UUID?) async throws -> Response {
        let prefer = request.headers[HTTPField.Name("Prefer")!] ?? ""
        guard
            prefer.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == "respond-async" })
        else {
            throw Problem.badRequest("a bulk export runs asynchronously: send 'Prefer: respond-async'")
        }
        let asked = try await asked(request, context)
        if let format = asked.outputFormat, !Self.outputFormats.contains(format) {
            throw Problem.badRequest("'_outputFormat' can only be application/fhir+ndjson")
        }
        var types = Self.types
        if let texts = asked.types {
            let named = texts.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            if let unknown = named.first(where: { !Self.types.contains($0) }) {
                throw Problem.badRequest(
                    "'_type' cannot include '\(unknown)': an export holds \(Self.types.joined(separator: ", "))")
            }
            types = Self.types.filter(named.contains)
        }
        var since: Date?
        if let text = asked.since {
            // A FHIR instant: a date, a time and a zone.
            guard let instant = Timestamp.parse(text, rfc3339: true) else {
                throw Problem.badRequest("'_since' must be an instant with its zone, such as 2026-11-01T00:00:00Z")
            }
            since = instant
        }
        let typeFilters = try asked.typeFilters.map { try ExportFilters.queries(in: $0, types: types) }
        var patients: [UUID]?
        if let references = asked.patients {
            patients = try references.map { reference in
                guard reference.hasPrefix("Patient/"), let id = UUID(hyphenated: String(reference.dropFirst(8)))
                else {
                    throw Problem.badRequest("'patient' must reference Patient/{id} (a UUID), not '\(reference)'")
                }
                return id
            }
            guard patients!.count <= Self.maximumPatients else {
                throw Problem.badRequest("an export names at most \(Self.maximumPatients) patients")
            }
        }
        let search = try FHIRSearch(request, context, resource: "Patient", checked: false)
        let query = request.uri.query.map { "?\($0)" } ?? ""
        let url = "\(search.base)/\(teamID.map { "Group/\($0.lowercasedString)" } ?? "Patient")/$export\(query)"
        let job = try await context.acting("fhir.export.kickoff", request) { caller in
            try await store.startExport(
                teamIDs: teamID.map { [$0] }, patientIDs: patients, types: types, typeFilters: typeFilters,
                since: since, requestURL: url,
                by: caller)
        }
        wake.signal()
        let outcome = FHIR.OperationOutcome(issue: [
            .init(
                severity: "information", code: "informational",
                diagnostics:
                    """
                    export \(job.id.lowercasedString) accepted: poll its Content-Location for progress and then the \
                    manifest
                    """
            )
        ])
        var response = try FHIRController.json(outcome, status: .accepted)
        response.headers[.contentLocation] = "\(search.base)/bulk-status/\(job.id.lowercasedString)"
        return response
    }

    /// The manifest of a complete export (Bulk Data 2.0's response body).
    struct Manifest: Encodable {
        struct Output: Encodable {
            var type: String
            var url: String
            var count: Int
        }
        var transactionTime: String
        var request: String
        var requiresAccessToken = true
        var output: [Output]
        var error: [Output] = []
    }

    @Sendable func status(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try FHIRController.id(context)
        let job = try await context.acting("fhir.export.status", request) { caller in
            try await store.exportJob(id, by: caller)
        }
        switch job.status {
        case .accepted, .inProgress:
            var response = Response(status: .accepted)
            response.headers[HTTPField.Name("X-Progress")!] =
                job.status == .accepted ? "queued" : job.progress ?? "starting"
            response.headers[.retryAfter] = "2"
            return response
        case .failed:
            let outcome = FHIR.OperationOutcome(issue: [
                .init(severity: "error", code: "exception", diagnostics: "the export failed: \(job.error ?? "unknown")")
            ])
            return try FHIRController.json(outcome, status: .internalServerError)
        case .complete:
            let base = try FHIRSearch(request, context, resource: "Patient", checked: false).base
            let manifest = Manifest(
                transactionTime: Timestamp.iso8601(job.transactionTime, fractionDigits: 3, rounding: .down),
                request: job.requestURL,
                output: job.files.map {
                    .init(
                        type: $0.type, url: "\(base)/bulk-files/\(job.id.lowercasedString)/\($0.part)",
                        count: $0.lines)
                })
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            var response = Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(manifest))))
            if let expires = job.expiresAt { response.headers[.expires] = Self.httpDate(expires) }
            return response
        }
    }

    @Sendable func delete(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try FHIRController.id(context)
        try await context.acting("fhir.export.delete", request) { caller in
            try await store.deleteExport(id, by: caller)
        }
        return Response(status: .accepted)
    }

    @Sendable func file(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try FHIRController.id(context)
        guard let text = context.parameters.get("part"), let part = Int(text), part > 0 else {
            throw Problem.notFound("no such file: files are numbered from 1 (the manifest lists them)")
        }
        let file = try await context.acting("fhir.export.file", request) { caller in
            try await store.exportFile(id, part: part, by: caller)
        }
        return Response(
            status: .ok, headers: [.contentType: "application/fhir+ndjson"],
            body: .init(byteBuffer: ByteBuffer(string: file.body)))
    }

    /// An HTTP-date (RFC 9110): "Tue, 01 Dec 2026 10:00:00 GMT".
    static func httpDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: date)
    }
}

/// Runs bulk exports: claims a waiting job (or one whose instance died), reads its patients a
/// batch at a time as the requester (row-level security, audited per patient), and writes NDJSON
/// files of at most `partBytes` each, so memory stays flat whatever the caseload. Every
/// care-server runs one; the store's SKIP LOCKED claim gives each job to one of them.
public struct FHIRExportWorker: Service {
    public struct Settings: Sendable {
        /// How long a complete export's files are kept.
        public var retention: Duration = .seconds(24 * 3600)
        /// A worker that has not renewed its lease for this long is taken to have died.
        public var lease: Duration = .seconds(60)
        /// Patients read per batch.
        public var patientsPerBatch = 200
        /// A file is written once its type's output reaches this size.
        public var partBytes = 4 << 20
        /// How often an idle worker looks for jobs kicked off elsewhere (or orphaned).
        public var idlePoll: Duration = .seconds(5)

        public init() {}
    }

    let store: CareStore
    let wake: ChangeSignal
    let settings: Settings
    let logger: Logger

    public init(store: CareStore, wake: ChangeSignal, settings: Settings = Settings(), logger: Logger) {
        self.store = store
        self.wake = wake
        self.settings = settings
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var lastExpiry = ContinuousClock.now - .seconds(3600)
            while !Task.isCancelled {
                let seen = wake.generation
                do {
                    if ContinuousClock.now - lastExpiry > .seconds(60) {
                        let expired = try await store.expireExports()
                        if expired > 0 { logger.info("expired bulk exports", metadata: ["count": "\(expired)"]) }
                        lastExpiry = .now
                    }
                    if try await runPending() > 0 { continue }
                } catch is CancellationError {
                    return
                } catch {
                    // Shutdown cancels the statement under way: that is not a failure.
                    if Task.isCancelled { return }
                    logger.error("bulk export worker failed; retrying", metadata: ["error": "\(error)"])
                }
                await wake.wait(since: seen, timeout: settings.idlePoll)
            }
        }
    }

    /// Runs every job waiting now, one after another; how many.
    @discardableResult
    public func runPending() async throws -> Int {
        var ran = 0
        while let job = try await store.claimExport(lease: settings.lease) {
            ran += 1
            do {
                try await export(job)
            } catch is CancellationError {
                throw CancellationError()
            } catch let failure as ExportStopped {
                logger.notice(
                    "bulk export stopped", metadata: ["export": "\(job.id.lowercasedString)", "why": "\(failure.why)"])
            } catch {
                logger.error(
                    "bulk export failed", metadata: ["export": "\(job.id.lowercasedString)", "error": "\(error)"])
                try await store.finishExport(job, error: "\(error)", retention: settings.retention)
            }
        }
        return ran
    }

    /// The job was deleted or taken over: nothing more to write.
    struct ExportStopped: Error { var why: String }

    func export(_ job: ExportJob) async throws {
        let started = ContinuousClock.now
        guard let principal = try await store.exportPrincipal(job) else {
            try await store.finishExport(
                job, error: "the token that asked for this export was revoked or has expired",
                retention: settings.retention)
            return
        }
        let caller = Caller.request(
            RequestActor(
                principal: principal, requestID: job.requestID ?? job.id.lowercasedString, action: "fhir.export",
                resource: job.requestURL))
        let types = Set(job.types)
        var kinds = Set<ExportRecords>()
        for (type, kind) in [
            ("Patient", ExportRecords.patients), ("CarePlan", .carePlans), ("Observation", .measurements),
            ("MedicationStatement", .trials), ("Procedure", .trials), ("ServiceRequest", .referrals),
            ("Task", .tasks), ("DocumentReference", .notes),
        ] where types.contains(type) {
            kinds.insert(kind)
        }
        var output = NDJSONOutput(job: job, store: store, settings: settings)
        output.filters = try ExportFilters(job.typeFilters ?? [])
        for team in job.teamIDs {
            if types.contains("CareTeam") {
                let careTeam = try await store.careTeam(teamID: team, by: caller)
                try await output.append(
                    "CareTeam", FHIR.CareTeam(teamID: team, name: careTeam.name, members: careTeam.members))
            }
            guard !kinds.isEmpty else { continue }
            // The next batch is read while this one is written out.
            let read: @Sendable (UUID?) -> Task<ExportChunk, any Error> = { [store, settings, kinds] after in
                Task {
                    try await store.exportChunk(
                        teamID: team, patients: job.patientIDs, after: after, limit: settings.patientsPerBatch,
                        kinds: kinds, since: job.since,
                        by: caller)
                }
            }
            var pending: Task<ExportChunk, any Error>? = read(nil)
            while let reading = pending {
                let chunk = try await reading.value
                pending = chunk.next.map(read)
                do {
                    try await output.write(chunk, types: types)
                    output.patients += chunk.patients.count
                    guard try await store.renewExport(job, progress: output.progress, lease: settings.lease) else {
                        throw ExportStopped(why: "deleted by its requester, or taken over by another worker")
                    }
                } catch {
                    pending?.cancel()
                    throw error
                }
            }
        }
        try await output.flushAll()
        try await store.finishExport(job, error: nil, retention: settings.retention)
        let seconds = (ContinuousClock.now - started).inSeconds
        logger.info(
            "bulk export complete",
            metadata: [
                "export": "\(job.id.lowercasedString)", "resources": "\(output.resources)",
                "seconds": "\(String(format: "%.1f", seconds))",
            ])
    }
}

extension ExportPatient {
    var resource: FHIR.Patient {
        var resource = FHIR.Patient(id: id, mrn: mrn, name: displayName, status: status, enrolledOn: enrolledOn)
        resource.meta = .updated(updatedAt)
        return resource
    }
}

extension ExportChunk {
    /// The batch's records as FHIR resources of `types`, type by type, mapped as the reads map
    /// them (what a bulk export writes and Patient/$everything answers).
    func resources(types: Set<String>, filters: ExportFilters = ExportFilters()) -> [FHIR.AnyResource] {
        var resources: [FHIR.AnyResource] = []
        if types.contains("Patient") {
            resources += patients.filter(\.changed).map { .init("Patient", $0.id.lowercasedString, $0.resource) }
        }
        if types.contains("CarePlan") {
            resources += carePlans.map {
                .init("CarePlan", $0.plan.patientID.lowercasedString, FHIR.CarePlan($0.plan, openTasks: $0.openTasks))
            }
        }
        if types.contains("Observation") {
            resources += measurements.filter { filters.instruments?.contains($0.item.instrument) ?? true }.map {
                .init("Observation", $0.item.id.lowercasedString, FHIR.Observation($0.item, patientID: $0.patientID))
            }
        }
        for (patient, trial) in trials {
            if trial.isMedication, types.contains("MedicationStatement") {
                resources.append(
                    .init(
                        "MedicationStatement", trial.id.lowercasedString,
                        FHIR.MedicationStatement(trial, patientID: patient)))
            } else if !trial.isMedication, types.contains("Procedure") {
                resources.append(
                    .init("Procedure", trial.id.lowercasedString, FHIR.Procedure(trial, patientID: patient)))
            }
        }
        if types.contains("ServiceRequest") {
            resources += referrals.map { FHIR.ServiceRequest($0.referral, patientID: $0.patientID) }
                .filter { filters.referralStatuses?.contains($0.status) ?? true }
                .map { .init("ServiceRequest", $0.id, $0) }
        }
        if types.contains("Task") {
            resources += tasks.filter { filters.taskStatuses?.contains($0.status) ?? true }.map {
                .init("Task", $0.id.lowercasedString, FHIR.Task($0))
            }
        }
        if types.contains("DocumentReference") {
            resources += notes.map {
                .init(
                    "DocumentReference", $0.note.id.lowercasedString,
                    FHIR.DocumentReference($0.note, patientID: $0.patientID))
            }
        }
        return resources
    }
}

/// The export's output: NDJSON per resource type, written as a file once it reaches the part size.
struct NDJSONOutput {
    let job: ExportJob
    let store: CareStore
    let settings: FHIRExportWorker.Settings
    var buffers: [String: (bytes: [UInt8], lines: Int)] = [:]
    var part = 0
    var resources = 0
    var patients = 0
    /// `_typeFilter`: what a resource of a filtered type must match.
    var filters = ExportFilters()

    init(job: ExportJob, store: CareStore, settings: FHIRExportWorker.Settings) {
        self.job = job
        self.store = store
        self.settings = settings
    }

    var progress: String { "\(patients) patients, \(resources) resources" }

    mutating func append(_ type: String, _ resource: some Encodable) async throws {
        // Each line is the document the type's read answers (FHIRController.encoded).
        let line = try FHIRController.encoded(resource)
        var buffer = buffers[type] ?? ([], 0)
        buffers[type] = nil
        buffer.bytes.append(contentsOf: line)
        buffer.bytes.append(UInt8(ascii: "\n"))
        buffer.lines += 1
        resources += 1
        buffers[type] = buffer
        if buffer.bytes.count >= settings.partBytes { try await flush(type) }
    }

    /// A batch's resources, type by type.
    mutating func write(_ chunk: ExportChunk, types: Set<String>) async throws {
        for resource in chunk.resources(types: types, filters: filters) {
            try await append(resource.type, resource.resource)
        }
    }

    mutating func flush(_ type: String) async throws {
        guard let buffer = buffers.removeValue(forKey: type), buffer.lines > 0 else { return }
        part += 1
        guard
            try await store.writeExportFile(
                job, part: part, type: type, lines: buffer.lines, body: String(decoding: buffer.bytes, as: UTF8.self),
                progress: progress, lease: settings.lease)
        else {
            throw FHIRExportWorker.ExportStopped(why: "deleted by its requester, or taken over by another worker")
        }
    }

    mutating func flushAll() async throws {
        for type in FHIRExportController.types where buffers[type] != nil { try await flush(type) }
    }
}

/// Bulk Data's `_typeFilter` as CareRelay serves it (docs/fhir.md, "Bulk export"): FHIR search
/// queries, one parameter each, on the searches the types already have. Queries on one type are
/// alternatives (a resource matching any is exported); a type without a query is not filtered.
struct ExportFilters: Sendable {
    /// Observation?code=: the instruments whose panel code was named.
    var instruments: Set<Instrument>?
    /// ServiceRequest?status=: FHIR request statuses.
    var referralStatuses: Set<String>?
    /// Task?status=: CareRelay's task statuses, as Task searches take them.
    var taskStatuses: Set<TaskStatus>?

    static let supported = "Observation?code=, ServiceRequest?status= and Task?status="
    /// The statuses a ServiceRequest can have here (its search and `_typeFilter` take these).
    static let referralStatuses = ["active", "completed", "revoked", "entered-in-error"]

    init() {}

    /// The filters of checked queries (the worker reads them back from the job).
    init(_ queries: [String]) throws {
        for query in queries { try add(query) }
    }

    /// The queries in `_typeFilter` values, each checked, for an export of `types`. A value
    /// holds one or more queries separated by commas (a comma inside a query, between its
    /// alternatives, stays with it).
    static func queries(in values: [String], types: [String]) throws -> [String] {
        var queries: [String] = []
        for value in values {
            var current = ""
            for piece in value.split(separator: ",", omittingEmptySubsequences: false) {
                if !current.isEmpty, piece.wholeMatch(of: /[A-Z][A-Za-z]+\?.*/) == nil {
                    current += "," + piece
                } else {
                    if !current.isEmpty { queries.append(current) }
                    current = String(piece)
                }
            }
            if !current.isEmpty { queries.append(current) }
        }
        var check = ExportFilters()
        for query in queries {
            let type = String(query.prefix { $0 != "?" })
            guard types.contains(type) else {
                throw Problem.badRequest(
                    "'_typeFilter' names \(type.isEmpty ? "no type" : type), which this export does not hold (_type)")
            }
            try check.add(query)
        }
        return queries
    }

    mutating func add(_ query: String) throws {
        let parts = query.split(separator: "?", maxSplits: 1).map(String.init)
        let pairs = parts.count == 2 ? parts[1].split(separator: "&").map(String.init) : []
        guard pairs.count == 1, let equals = pairs[0].firstIndex(of: "=") else {
            throw Problem.badRequest(
                "'_typeFilter' takes queries with one parameter each: \(Self.supported), not '\(query)'")
        }
        let name = String(pairs[0][..<equals])
        let raw = String(pairs[0][pairs[0].index(after: equals)...])
        let values = (raw.removingPercentEncoding ?? raw).split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        switch (parts[0], name) {
        case ("Observation", "code"):
            // A code CareRelay never records matches nothing, as in a search.
            instruments = (instruments ?? []).union(values.compactMap(InstrumentCoding.instrument(searching:)))
        case ("ServiceRequest", "status"):
            if let unknown = values.first(where: { !Self.referralStatuses.contains($0) }) {
                throw Problem.badRequest(
                    """
                    '_typeFilter' ServiceRequest?status= cannot be '\(unknown)': it is one of \
                    \(Self.referralStatuses.joined(separator: ", "))
                    """)
            }
            referralStatuses = (referralStatuses ?? []).union(values)
        case ("Task", "status"):
            let statuses = values.map(TaskStatus.init(rawValue:))
            if let unknown = zip(values, statuses).first(where: { $0.1 == nil })?.0 {
                throw Problem.badRequest(
                    """
                    '_typeFilter' Task?status= cannot be '\(unknown)': it is one of \
                    \(TaskStatus.allCases.map(\.rawValue).joined(separator: ", "))
                    """)
            }
            taskStatuses = (taskStatuses ?? []).union(statuses.compactMap { $0 })
        default:
            throw Problem.badRequest("'_typeFilter' supports \(Self.supported), not '\(query)'")
        }
    }
}

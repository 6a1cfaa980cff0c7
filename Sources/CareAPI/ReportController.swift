import CareDomain
import CareStore
import CareWire
import Foundation
import HTTPTypes
import Hummingbird

/// The weekly case-review report: built on request in four formats, kept as snapshots, and
/// recommendations recorded against a snapshot.
struct ReportController: Sendable {
    let store: CareStore

    enum Format: String, CaseIterable {
        case json, html, md, csv

        var contentType: String {
            switch self {
            case .json: "application/json"
            case .html: "text/html; charset=utf-8"
            case .md: "text/markdown; charset=utf-8"
            case .csv: "text/csv; charset=utf-8"
            }
        }
    }

    static func week(_ context: CareRequestContext) throws -> ISOWeek {
        guard let text = context.parameters.get("week"), let week = ISOWeek(text) else {
            throw Problem.badRequest("the week in the path must be an ISO week such as 2026-W48")
        }
        return week
    }

    static func format(_ request: Request, allowed: [Format] = Format.allCases) throws -> Format {
        guard let text = try QueryParameters(request).string("format", maxLength: 10) else { return .json }
        guard let format = Format(rawValue: text), allowed.contains(format) else {
            throw Problem.badRequest("'format' must be one of: \(allowed.map(\.rawValue).joined(separator: ", "))")
        }
        return format
    }

    static func body(_ text: String, _ format: Format, filename: String) -> Response {
        var headers: HTTPFields = [.contentType: format.contentType]
        if format == .html {
            // The page carries its own CSS and SVG and loads nothing.
            headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
        }
        if format == .csv { headers[.contentDisposition] = "attachment; filename=\"\(filename).csv\"" }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func render(_ report: WeeklyReport, _ format: Format) throws -> Response {
        let name = "case-review-\(report.isoWeek)"
        switch format {
        case .json:
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: ReportJSON.encode(report))))
        case .html: return body(ReportRendering.html(report), .html, filename: name)
        case .md: return body(ReportRendering.markdown(report), .md, filename: name)
        case .csv: return body(ReportRendering.csv(report), .csv, filename: name)
        }
    }

    func addRoutes(to v1: RouterGroup<CareRequestContext>) {
        v1.get("teams/:id/reports/weekly/:week", use: weeklyReport)
        v1.post("teams/:id/reports/weekly/:week/snapshots", use: keepSnapshot)
        v1.get("teams/:id/reports/weekly/:week/snapshots", use: snapshots)
        v1.get("report-snapshots/:id", use: snapshot)
        v1.post("report-snapshots/:id/recommendations", use: recommend)
    }

    /// GET /v1/teams/:id/reports/weekly/:week
    @Sendable func weeklyReport(_ request: Request, context: CareRequestContext) async throws -> Response {
        let team = try context.id()
        let week = try Self.week(context)
        let format = try Self.format(request)
        let review = try await context.acting("report.weekly", request) { caller in
            // Read on the report replica when there is one (docs/operations.md).
            try await store.weeklyReview(teamID: team, week: week, by: caller, fromReplica: true)
        }
        return try Self.render(WeeklyReport(review), format)
    }

    /// POST /v1/teams/:id/reports/weekly/:week/snapshots
    @Sendable func keepSnapshot(_ request: Request, context: CareRequestContext) async throws -> Response {
        let team = try context.id()
        let week = try Self.week(context)
        // The report is read without claiming the Idempotency-Key; keeping the snapshot claims it.
        return try await context.respond("report.snapshot", request) { caller -> ReportSnapshot in
            let report = WeeklyReport(try await store.weeklyReview(teamID: team, week: week, by: caller))
            return try await store.keepSnapshot(
                teamID: team, isoWeek: report.isoWeek, patients: report.patients.map(\.id.value),
                json: Data(ReportJSON.encode(report)), html: ReportRendering.html(report),
                markdown: ReportRendering.markdown(report), by: caller)
        } render: { snapshot in
            try Self.snapshotJSON(snapshot, status: .created)
        }
    }

    /// GET /v1/teams/:id/reports/weekly/:week/snapshots
    @Sendable func snapshots(_ request: Request, context: CareRequestContext) async throws -> Response {
        let team = try context.id()
        let week = try Self.week(context)
        let snapshots = try await context.acting("report.snapshots", request) { caller in
            try await store.snapshots(teamID: team, week: week, by: caller)
        }
        return try Wire.json(
            ListPage(
                items: snapshots.map {
                    Snapshot(
                        id: $0.id.lower, teamId: team.lower, isoWeek: $0.isoWeek, takenBy: $0.takenBy.lower,
                        takenAt: $0.takenAt, recommendations: $0.recommendations)
                }, nextCursor: nil))
    }

    /// GET /v1/report-snapshots/:id
    @Sendable func snapshot(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let format = try Self.format(request, allowed: [.json, .html, .md])
        let snapshot = try await context.acting("report.snapshot.read", request) { caller in
            try await store.snapshot(id, by: caller)
        }
        return try Self.snapshotResponse(snapshot, format: format, status: .ok)
    }

    /// POST /v1/report-snapshots/:id/recommendations
    @Sendable func recommend(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let body = try await request.decodeJSON(NewRecommendation.self, context: context)
        try checkText(body.text, "text", max: 10_000, required: true)
        if let task = body.task { try checkText(task.title, "task.title", max: 300, required: true) }
        return try await context.respond("report.recommend", request, patient: body.patientId) { caller in
            try await store.recommend(
                snapshotID: id, patientID: body.patientId, text: body.text,
                task: body.task.map { ($0.title, $0.role, $0.dueAt) }, by: caller)
        } render: { made in
            return try Wire.answer(
                CareWire.Recommendation(
                    id: made.id.lower, snapshotId: id.lower, patientId: made.patientID.lower, noteId: made.noteID.lower,
                    taskId: made.taskID?.lower), status: .created)
        }
    }

    /// A snapshot as kept: JSON is the snapshot's facts with the report's data as it was.
    static func snapshotResponse(_ snapshot: ReportSnapshot, format: Format, status: HTTPResponse.Status) throws
        -> Response
    {
        switch format {
        case .html: return body(snapshot.html, .html, filename: "case-review-\(snapshot.isoWeek)")
        case .md: return body(snapshot.markdown, .md, filename: "case-review-\(snapshot.isoWeek)")
        case .json, .csv:
            return try snapshotJSON(snapshot, status: status).response
        }
    }

    /// A snapshot's facts with the report as it was kept.
    static func snapshotJSON(_ snapshot: ReportSnapshot, status: HTTPResponse.Status) throws -> Answer {
        let facts = try Wire.encoder.encode(
            Snapshot(
                id: snapshot.id.lower, teamId: snapshot.teamID.lower, isoWeek: snapshot.isoWeek,
                takenBy: snapshot.takenBy.lower, takenAt: snapshot.takenAt))
        var object = try JSONSerialization.jsonObject(with: facts) as? [String: Any] ?? [:]
        object["report"] = try JSONSerialization.jsonObject(with: snapshot.report)
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        var headers: HTTPFields = [:]
        if status == .created { headers[.location] = "/v1/report-snapshots/\(snapshot.id.lower)" }
        return Wire.answer(bytes: data, status: status, headers: headers)
    }
}

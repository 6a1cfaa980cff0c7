import CareDomain
import CareStore
import CareWire
import Foundation
import HTTPTypes
import Hummingbird

/// Clinical records: notes and amendments, measurements, trials and outcomes, referrals, and
/// marking any of them entered in error.
struct RecordsController: Sendable {
    let store: CareStore

    func addRoutes(to v1: RouterGroup<CareRequestContext>) {
        v1.get("patients/:id/notes", use: notes)
        v1.post("patients/:id/notes", use: addNote)
        v1.post("notes/:id/amendments", use: amendNote)
        v1.get("patients/:id/measurements", use: measurements)
        v1.post("patients/:id/measurements", use: recordMeasurement)
        v1.get("patients/:id/trials", use: trials)
        v1.post("patients/:id/trials", use: startTrial)
        v1.post("trials/:id/dose", use: changeDose)
        v1.post("trials/:id/outcome", use: recordOutcome)
        v1.get("patients/:id/referrals", use: referrals)
        v1.post("patients/:id/referrals", use: makeReferral)
        v1.post("referrals/:id/status", use: moveReferral)
        for (path, record) in [
            ("measurements/:id/entered-in-error", CorrectableRecord.measurement),
            ("trials/:id/entered-in-error", .trial),
            ("trials/:id/outcome/entered-in-error", .trialOutcome), ("referrals/:id/entered-in-error", .referral),
            ("notes/:id/entered-in-error", .note),
        ] {
            v1.post(RouterPath(stringLiteral: path)) { request, context in
                try await markEnteredInError(record, request, context: context)
            }
        }
    }

    /// GET /v1/patients/:id/notes
    @Sendable func notes(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let query = QueryParameters(request)
        let include = try query.bool("include_entered_in_error") ?? false
        let page = try await context.acting("note.list", request, patient: id) { caller in
            try await store.notes(
                patientID: id, includeEnteredInError: include, limit: try query.limit(),
                after: try query.afterID(), by: caller)
        }
        return try Wire.json(ListPage(items: page.items.map(NoteOut.init), nextCursor: page.next))
    }

    /// POST /v1/patients/:id/notes
    @Sendable func addNote(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let body = try await request.decodeJSON(NewNote.self, context: context)
        try checkText(body.body, "body", max: APILimits.maximumNoteCharacters, required: true)
        if body.kind == .caseReview {
            throw Problem.invalid("case-review notes come from the weekly review's recommendations")
        }
        return try await context.respond("note.add", request, patient: id) { caller in
            try await store.addNote(patientID: id, kind: body.kind ?? .progress, body: body.body, by: caller)
        } render: { noteID in
            return try Wire.answer(
                Created(id: noteID.lower), status: .created, headers: [.location: "/v1/patients/\(id.lower)/notes"])
        }
    }

    /// POST /v1/notes/:id/amendments
    @Sendable func amendNote(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let body = try await request.decodeJSON(Amendment.self, context: context)
        try checkText(body.body, "body", max: APILimits.maximumNoteCharacters, required: true)
        return try await context.respond("note.amend", request) { caller in
            try await store.amendNote(id, body: body.body, by: caller)
        } render: { amended in
            return try Wire.answer(
                Created(id: amended.id.lower), status: .created,
                headers: [.location: "/v1/patients/\(amended.patientID.lower)/notes"])
        }
    }

    /// GET /v1/patients/:id/measurements
    @Sendable func measurements(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let query = QueryParameters(request)
        let include = try query.bool("include_entered_in_error") ?? false
        let page = try await context.acting("measurement.list", request, patient: id) { caller in
            try await store.measurements(
                patientID: id, includeEnteredInError: include, limit: try query.limit(), after: try query.afterID(),
                by: caller)
        }
        return try Wire.json(ListPage(items: page.items.map(MeasurementOut.init), nextCursor: page.next))
    }

    /// POST /v1/patients/:id/measurements
    @Sendable func recordMeasurement(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let body = try await request.decodeJSON(NewMeasurement.self, context: context)
        let score: Score
        do {
            switch (body.items, body.total) {
            case (let items?, nil): score = try Score(body.instrument, items: items)
            case (nil, let total?): score = try Score(body.instrument, total: total)
            case (.some, .some): throw Problem.invalid("send either 'items' (the answers) or 'total', not both")
            case (nil, nil): throw Problem.invalid("send 'items' (the answers) or 'total'")
            }
        } catch let error as MeasurementError {
            throw Problem.invalid(error.description)
        }
        let takenAt = body.takenAt ?? Date()
        return try await context.respond("measurement.record", request, patient: id) { caller in
            try await store.recordMeasurement(patientID: id, score: score, takenAt: takenAt, by: caller)
        } render: { result in
            return try Wire.answer(
                Created(
                    id: result.measurementID.lower, handoffIds: result.event.handoffIDs.map(\.lower),
                    severity: score.band), status: .created,
                headers: [.location: "/v1/patients/\(id.lower)/measurements"])
        }
    }

    /// GET /v1/patients/:id/trials
    @Sendable func trials(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let query = QueryParameters(request)
        let include = try query.bool("include_entered_in_error") ?? false
        let page = try await context.acting("trial.list", request, patient: id) { caller in
            try await store.trials(
                patientID: id, includeEnteredInError: include, limit: try query.limit(), after: try query.afterID(),
                by: caller)
        }
        return try Wire.json(ListPage(items: page.items.map(TrialOut.init), nextCursor: page.next))
    }

    /// POST /v1/patients/:id/trials
    @Sendable func startTrial(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let body = try await request.decodeJSON(NewTrial.self, context: context)
        try checkText(body.drug, "drug", max: 100)
        try checkText(body.therapy, "therapy", max: 200)
        let highDoseReason = try Self.checkedDose(
            body.dailyDoseMg, confirmHighDose: body.confirmHighDose, reason: body.highDoseReason)
        return try await context.respond("trial.start", request, patient: id) { caller in
            try await store.startTrial(
                patientID: id, kind: body.kind, drug: body.drug, dailyDoseMg: body.dailyDoseMg,
                startedOn: body.startedOn.date,
                therapy: body.therapy, highDoseReason: highDoseReason, by: caller)
        } render: { trialID in
            return try Wire.answer(
                Created(id: trialID.lower), status: .created, headers: [.location: "/v1/patients/\(id.lower)/trials"])
        }
    }

    /// A daily dose's shape (above 0, at most 100000 mg), and the reason that goes with a high
    /// dose's confirmation: nil unless `confirm_high_dose` is true, and then not blank. Whether the
    /// dose is high is the dose table's to say (the store).
    static func checkedDose(_ dose: Double?, confirmHighDose: Bool?, reason: String?) throws -> String? {
        try checkText(reason, "high_dose_reason", max: 1000)
        if let dose, !(dose > 0 && dose <= 100_000) {
            throw Problem.badRequest("'daily_dose_mg' must be above 0 and at most 100000")
        }
        guard confirmHighDose == true else { return nil }
        if (reason ?? "").unicodeScalars.allSatisfy(isBlank) {
            var problem = Problem.invalid("'confirm_high_dose' needs 'high_dose_reason': why this dose")
            problem.field = "high_dose_reason"
            throw problem
        }
        return reason
    }

    /// POST /v1/trials/:id/dose
    @Sendable func changeDose(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let body = try await request.decodeJSON(NewDose.self, context: context)
        let highDoseReason = try Self.checkedDose(
            body.dailyDoseMg, confirmHighDose: body.confirmHighDose, reason: body.highDoseReason)
        return try await context.respond("trial.dose", request) { caller in
            try await store.changeTrialDose(
                trialID: id, dailyDoseMg: body.dailyDoseMg, from: body.from.date, highDoseReason: highDoseReason,
                by: caller)
        } render: { trial in
            try Wire.answer(TrialOut(trial))
        }
    }

    /// POST /v1/trials/:id/outcome
    @Sendable func recordOutcome(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let body = try await request.decodeJSON(NewOutcome.self, context: context)
        try checkText(body.stopReason, "stop_reason", max: 1000)
        if let adherence = body.adherence, !(0...1).contains(adherence) {
            throw Problem.badRequest("'adherence' must be from 0 to 1")
        }
        if let sessions = body.sessions, !(0...1000).contains(sessions) {
            throw Problem.badRequest("'sessions' must be from 0 to 1000")
        }
        return try await context.respond("trial.outcome", request) { caller in
            try await store.recordTrialOutcome(
                trialID: id, outcome: body.outcome, stoppedOn: body.stoppedOn.date, adherence: body.adherence,
                sessions: body.sessions, stopReason: body.stopReason, by: caller)
        } render: { result in
            return Wire.answer(
                OutcomeOut(
                    trialId: id.lower, outcome: result.outcome.rawValue, isFailed: result.isFailure,
                    trdReached: result.trdReached, adequacy: AdequacyOut(result.adequacy),
                    handoffIds: result.events.flatMap(\.handoffIDs).map(\.lower),
                    joinedHandoffIds: result.events.flatMap(\.joinedHandoffIDs).map(\.lower)), status: .created)
        }
    }

    /// GET /v1/patients/:id/referrals
    @Sendable func referrals(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let query = QueryParameters(request)
        let include = try query.bool("include_entered_in_error") ?? false
        let page = try await context.acting("referral.list", request, patient: id) { caller in
            try await store.referrals(
                patientID: id, includeEnteredInError: include, limit: try query.limit(), after: try query.afterID(),
                by: caller)
        }
        return try Wire.json(ListPage(items: page.items.map(ReferralOut.init), nextCursor: page.next))
    }

    /// POST /v1/patients/:id/referrals
    @Sendable func makeReferral(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let body = try await request.decodeJSON(NewReferral.self, context: context)
        try checkText(body.targetClinic, "target_clinic", max: 300, required: true)
        try checkText(body.note, "note", max: 4000)
        try checkText(body.reason, "reason", max: 1000)
        return try await context.respond("referral.make", request, patient: id) { caller in
            try await store.makeReferral(
                patientID: id, kind: body.kind, targetClinic: body.targetClinic, note: body.note ?? "",
                reason: body.reason,
                by: caller)
        } render: { result in
            return try Wire.answer(
                Created(id: result.referralID.lower, handoffIds: result.event.handoffIDs.map(\.lower)),
                status: .created,
                headers: [.location: "/v1/patients/\(id.lower)/referrals"])
        }
    }

    /// POST /v1/referrals/:id/status
    @Sendable func moveReferral(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let body = try await request.decodeJSON(ReferralStatusChange.self, context: context)
        try checkText(body.reason, "reason", max: 1000)
        return try await context.respond("referral.status", request) { caller in
            try await store.moveReferral(id, to: body.status, reason: body.reason, by: caller)
        } render: { superseded in
            return try Wire.answer(
                Moved(id: id.lower, status: body.status.rawValue, supersededHandoffIds: superseded.map(\.lower)))
        }
    }

    /// POST /v1/{measurements,trials,trials/{id}/outcome,referrals,notes}/{id}/entered-in-error
    @Sendable func markEnteredInError(_ record: CorrectableRecord, _ request: Request, context: CareRequestContext)
        async throws -> Response
    {
        let id = try context.id()
        let body = try await request.decodeJSON(CorrectionBody.self, context: context)
        try checkText(body.reason, "reason", max: 1000, required: true)
        return try await context.respond(
            "\(record.rawValue.replacingOccurrences(of: "-", with: "_")).entered_in_error", request
        ) { caller in
            try await store.markEnteredInError(record, id: id, reason: body.reason, by: caller)
        } render: { correction in
            return try Wire.answer(CorrectionOut(correction))
        }
    }
}

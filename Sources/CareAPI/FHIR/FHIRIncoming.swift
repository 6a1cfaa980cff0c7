import CareDomain
import CareStore
import CoreFormats
import Foundation
import HTTPTypes
import Hummingbird

/// One way in (docs/fhir.md, "Writing a score"): a PHQ-9, GAD-7 or MADRS sent as a FHIR
/// Observation or QuestionnaireResponse is recorded by the same store command as
/// POST /v1/patients/{id}/measurements, so an item-9 answer above 0 makes the same safety
/// handoffs. A retry with the same Idempotency-Key (or the same If-None-Exist) records it once.
enum FHIRIncoming {
    struct Coding: Decodable {
        var system: String?
        var code: String?
    }

    struct CodeableConcept: Decodable {
        var coding: [Coding]?
    }

    struct Reference: Decodable {
        var reference: String?
    }

    struct Observation: Decodable {
        struct Component: Decodable {
            var code: CodeableConcept
            var valueInteger: Int?
        }
        var resourceType: String
        var status: String?
        var code: CodeableConcept
        var subject: Reference?
        var effectiveDateTime: String?
        var valueInteger: Int?
        var component: [Component]?
    }

    struct QuestionnaireResponse: Decodable {
        struct Item: Decodable {
            struct Answer: Decodable {
                var valueInteger: Int?
                var valueCoding: Coding?
            }
            var linkId: String
            var answer: [Answer]?
        }
        var resourceType: String
        var questionnaire: String?
        var status: String?
        var subject: Reference?
        var authored: String?
        var item: [Item]?
    }

    /// What a score needs: its patient, the score and when it was taken.
    struct Measurement {
        var patientID: UUID
        var score: Score
        var takenAt: Date
    }

    static func patient(_ reference: Reference?) throws -> UUID {
        guard let text = reference?.reference else {
            throw Problem.invalid("'subject' must be the patient: {\"reference\": \"Patient/{id}\"}")
        }
        let id = text.hasPrefix("Patient/") ? String(text.dropFirst("Patient/".count)) : text
        guard let uuid = UUID(hyphenated: id) else {
            throw Problem.invalid("'subject.reference' must be Patient/{id}, such as Patient/\(Request.exampleID)")
        }
        return uuid
    }

    static func time(_ text: String?, field: String) throws -> Date {
        guard let text else { return Date() }
        guard let date = Wire.parseTimestamp(text) else {
            throw Problem.invalid("'\(field)' must be a dateTime with a time zone, such as 2026-11-27T09:30:00Z")
        }
        return date
    }

    /// The instrument a code names: its panel or its total, by LOINC or CareRelay's code system.
    static func instrument(_ concept: CodeableConcept) -> (Instrument, isTotal: Bool)? {
        for coding in concept.coding ?? [] {
            for instrument in Instrument.allCases {
                let codes = InstrumentCoding.codes(instrument)
                if coding.code == codes.panel.code, coding.system == nil || coding.system == codes.panel.system {
                    return (instrument, false)
                }
                if coding.code == codes.total.code, coding.system == nil || coding.system == codes.total.system {
                    return (instrument, true)
                }
            }
        }
        return nil
    }

    /// The score of the answers given (all of them, or none and a total).
    static func score(_ instrument: Instrument, answers: [Int?], total: Int?) throws -> Score {
        let given = answers.compactMap { $0 }
        guard given.isEmpty || given.count == answers.count else {
            throw Problem.invalid(
                """
                \(given.count) of the \(answers.count) \(instrument.rawValue) answers were sent: a score needs all of \
                them, or the total alone
                """
            )
        }
        let items = given.isEmpty ? nil : given
        do {
            switch (items, total) {
            case (let items?, let total?):
                let score = try Score(instrument, items: items)
                guard score.total == total else {
                    throw Problem.invalid(
                        """
                        the answers add up to \(score.total), not the total \(total) sent: send the answers alone, or \
                        fix them
                        """
                    )
                }
                return score
            case (let items?, nil): return try Score(instrument, items: items)
            case (nil, let total?): return try Score(instrument, total: total)
            case (nil, nil):
                throw Problem.invalid(
                    "send the \(instrument.rawValue) answers as components (or items), or its total as valueInteger")
            }
        } catch let error as MeasurementError {
            throw Problem.invalid(error.description)
        }
    }

    static func measurement(_ observation: Observation) throws -> Measurement {
        guard observation.resourceType == "Observation" else {
            throw Problem.invalid("'resourceType' must be Observation here")
        }
        guard [nil, "final", "amended", "corrected"].contains(observation.status) else {
            throw Problem.invalid("'status' must be final: CareRelay records finished scores only")
        }
        guard let (instrument, isTotal) = instrument(observation.code) else {
            throw Problem.invalid(
                """
                'code' must name a PHQ-9 (LOINC 44249-1 or its total 44261-6), a GAD-7 (69737-5 or 70274-6) or a MADRS \
                (\(FHIR.instrumentSystem)|madrs)
                """
            )
        }
        let codes = InstrumentCoding.codes(instrument)
        var answers = [Int?](repeating: nil, count: codes.items.count)
        var total = isTotal ? observation.valueInteger : nil
        if !isTotal, let value = observation.valueInteger { total = value }
        for component in observation.component ?? [] {
            let code = component.code.coding?.compactMap(\.code) ?? []
            if code.contains(codes.total.code ?? "") {
                total = component.valueInteger
            } else if let index = codes.items.firstIndex(where: { code.contains($0.code ?? "") }) {
                guard let value = component.valueInteger else {
                    throw Problem.invalid("the answer to \(codes.items[index].code ?? "") must be a valueInteger")
                }
                answers[index] = value
            } else {
                throw Problem.invalid(
                    "a component's code \(code.joined(separator: ", ")) is not an item of the \(instrument.rawValue)")
            }
        }
        return Measurement(
            patientID: try patient(observation.subject),
            score: try score(instrument, answers: answers, total: total),
            takenAt: try time(observation.effectiveDateTime, field: "effectiveDateTime"))
    }

    /// LOINC's answer codes for the PHQ-9 and GAD-7 frequency scale.
    static let answerCodes = ["LA6568-5": 0, "LA6569-3": 1, "LA6570-1": 2, "LA6571-9": 3]

    static func measurement(_ response: QuestionnaireResponse) throws -> Measurement {
        guard response.resourceType == "QuestionnaireResponse" else {
            throw Problem.invalid("'resourceType' must be QuestionnaireResponse here")
        }
        guard [nil, "completed", "amended"].contains(response.status) else {
            throw Problem.invalid("'status' must be completed: CareRelay records finished questionnaires only")
        }
        let named = Instrument.allCases.first { instrument in
            let code = InstrumentCoding.codes(instrument).panel.code ?? "?"
            return response.questionnaire?.contains(code) == true
        }
        guard let instrument = named else {
            throw Problem.invalid(
                """
                'questionnaire' must name the PHQ-9 (LOINC 44249-1), the GAD-7 (69737-5) or the MADRS (madrs), e.g. \
                http://loinc.org/q/44249-1
                """
            )
        }
        let codes = InstrumentCoding.codes(instrument)
        var answers = [Int?](repeating: nil, count: codes.items.count)
        var total: Int?
        for item in response.item ?? [] {
            let link = item.linkId.hasPrefix("/") ? String(item.linkId.dropFirst()) : item.linkId
            guard let answer = item.answer?.first else { continue }
            let value =
                try answer.valueInteger
                ?? answer.valueCoding.flatMap { coding in
                    guard let code = coding.code else { return nil }
                    if let number = answerCodes[code] { return number }
                    throw Problem.invalid("answer code \(code) of item \(item.linkId) is not one CareRelay knows")
                }
            guard let value else {
                throw Problem.invalid("item \(item.linkId) needs a valueInteger or valueCoding answer")
            }
            if link == codes.total.code {
                total = value
            } else if let index = codes.items.firstIndex(where: { $0.code == link }) ?? Int(link).map({ $0 - 1 }),
                answers.indices.contains(index)
            {
                answers[index] = value
            } else {
                throw Problem.invalid("item \(item.linkId) is not an item of the \(instrument.rawValue)")
            }
        }
        return Measurement(
            patientID: try patient(response.subject),
            score: try score(instrument, answers: answers, total: total),
            takenAt: try time(response.authored, field: "authored"))
    }
}

extension FHIRController {
    /// POST /fhir/R4/Observation
    @Sendable func createObservation(_ request: Request, context: CareRequestContext) async throws -> Response {
        let body = try await request.decodeJSON(FHIRIncoming.Observation.self, context: context)
        return try await record(try FHIRIncoming.measurement(body), request, context)
    }

    /// POST /fhir/R4/QuestionnaireResponse: recorded as the score it answers; the answer is the
    /// Observation made of it.
    @Sendable func createQuestionnaireResponse(_ request: Request, context: CareRequestContext) async throws
        -> Response
    {
        let body = try await request.decodeJSON(FHIRIncoming.QuestionnaireResponse.self, context: context)
        return try await record(try FHIRIncoming.measurement(body), request, context)
    }

    func record(_ measurement: FHIRIncoming.Measurement, _ request: Request, _ context: CareRequestContext)
        async throws -> Response
    {
        // One command: the score, its events and handoffs, the key and the kept answer commit together.
        try await context.respond("fhir.observation.create", request, patient: measurement.patientID) { caller in
            try await store.recordMeasurement(
                patientID: measurement.patientID, score: measurement.score, takenAt: measurement.takenAt, by: caller)
        } render: { result in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let id = result.measurementID.lowercasedString
            let observation = FHIR.Observation(
                id: result.measurementID, score: measurement.score, takenAt: measurement.takenAt,
                patientID: measurement.patientID)
            return Answer(
                status: .created,
                headers: [
                    .contentType: FHIR.contentType,
                    .location: "\(FHIRSearch.base(request, publicURL: context.publicURL))/Observation/\(id)",
                    .eTag: "W/\"1\"",
                ],
                body: ByteBuffer(bytes: try encoder.encode(observation)))
        }
    }
}

/// FHIR's conditional create (If-None-Exist) as CareRelay's Idempotency-Key: a create sent again
/// with the same If-None-Exist by the same member answers with what the first one made (its
/// Observation, marked Idempotent-Replayed) instead of recording the score twice, and, as FHIR
/// says of a conditional create that finds its match, with 200 rather than 201. An
/// Idempotency-Key, when sent too, wins (and a replay of it answers as the first request did).
/// Keys are kept as docs/architecture.md says.
struct IfNoneExistMiddleware: RouterMiddleware {
    typealias Context = CareRequestContext
    static let header = HTTPField.Name("If-None-Exist")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard request.method == .post, request.headers[.idempotencyKey] == nil,
            let condition = request.headers[Self.header]
        else { return try await next(request, context) }
        let key = "if-none-exist:" + condition
        guard key.count <= 255, key.unicodeScalars.allSatisfy({ (0x20...0x7E).contains($0.value) }) else {
            throw Problem.badRequest("If-None-Exist must be at most 240 printable ASCII characters")
        }
        var head = request.head
        head.headerFields[.idempotencyKey] = key
        var response = try await next(Request(head: head, body: request.body), context)
        if response.status == .created, response.headers[.idempotentReplayed] == "true" {
            response.status = .ok
        }
        return response
    }
}

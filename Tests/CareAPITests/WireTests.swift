@testable import CareAPI
import CareDomain
@testable import CareStore
import CareWire
import Foundation
import Testing

@Suite("The API's hand-written encodings agree with the Codable ones")
struct WireTests {
    /// Both encodings parsed: the same document, key order aside.
    func sameDocument(_ value: some JSONWritable) throws -> Bool {
        var writer = JSONWriter()
        value.write(to: &writer)
        let fast = try JSONSerialization.jsonObject(with: Data(writer.bytes)) as? NSDictionary
        let codable = try JSONSerialization.jsonObject(with: Wire.encoder.encode(value)) as? NSDictionary
        return fast != nil && fast == codable
    }

    /// The domain's assessment has no public initialiser: made the way it is stored, from JSON.
    func assessment(adequate: Bool, weeks: Double, drugClass: DrugClass?, reason: String, inputs: [(String, String)])
        throws -> AdequacyAssessment
    {
        var object: [String: Any] = [
            "isAdequate": adequate, "weeksAtAdequateDose": weeks, "reason": reason,
            "inputs": ["entries": inputs.map { ["name": $0.0, "value": $0.1] }],
        ]
        if let drugClass { object["drugClass"] = drugClass.rawValue }
        return try JSONDecoder().decode(AdequacyAssessment.self, from: JSONSerialization.data(withJSONObject: object))
    }

    @Test("integers at their limits, and commas in nested objects and arrays, as JSON reads them")
    func numbersAndNesting() throws {
        var writer = JSONWriter()
        writer.object { o in
            o.member("a") { $0.array([0, 7, -7, 10, 1_000, Int.max, Int.min]) { $0.int($1) } }
            o.member("b") { json in
                json.object { inner in
                    inner.member("c") { $0.object { _ in } }
                    inner.member("d") { $0.int(-42) }
                }
            }
            o.member("e") { $0.array([1, 2]) { json, n in json.object { $0.member("n") { $0.int(n) } } } }
        }
        #expect(
            String(decoding: writer.bytes, as: UTF8.self) == """
                {"a":[0,7,-7,10,1000,9223372036854775807,-9223372036854775808],"b":{"c":{},"d":-42},\
                "e":[{"n":1},{"n":2}]}
                """)
    }

    @Test("a trial outcome's answer, with and without a drug class, with text that needs escaping")
    func outcome() throws {
        let inputs = [("weeks at adequate dose", "6.0"), ("quote \" and backslash \\", "line\nbreak\ttab\u{1}")]
        for drugClass: DrugClass? in [.ssri, nil] {
            let adequacy = try assessment(
                adequate: drugClass != nil, weeks: 6.04, drugClass: drugClass,
                reason: "6 weeks at ≥ the minimum dose / Zürich ✓", inputs: inputs)
            let out = OutcomeOut(
                trialId: UUID().lower, outcome: "non-response", isFailed: true, trdReached: drugClass == nil,
                adequacy: AdequacyOut(adequacy), handoffIds: [UUID().lower, UUID().lower])
            #expect(try sameDocument(out))
        }
        let empty = OutcomeOut(
            trialId: UUID().lower, outcome: "remission", isFailed: false, trdReached: false,
            adequacy: AdequacyOut(try assessment(adequate: false, weeks: 0, drugClass: nil, reason: "", inputs: [])),
            handoffIds: [])
        #expect(try sameDocument(empty))
    }

    @Test("a page of tasks, with every optional field present and absent, and the last page without a cursor")
    func taskPage() throws {
        let due = Date(timeIntervalSince1970: 1_795_770_000.123)
        let full = TaskSummary(
            id: UUID(), patientID: UUID(), title: "Plan the \"next\" step\n", status: .inProgress, priority: .urgent,
            ownerID: UUID(),
            poolRole: .psychiatrist, dueAt: due, notBefore: due.addingTimeInterval(-3600), handoffID: UUID())
        let bare = TaskSummary(
            id: UUID(), patientID: UUID(), title: "Call", status: .requested, priority: .routine, ownerID: nil,
            poolRole: nil, dueAt: nil, notBefore: nil, handoffID: nil)
        #expect(try sameDocument(ListPage(items: [TaskOut(full), TaskOut(bare)], nextCursor: "42")))
        #expect(try sameDocument(ListPage(items: [TaskOut(bare)], nextCursor: nil)))
        #expect(try sameDocument(ListPage<TaskOut>(items: [], nextCursor: nil)))
        #expect(try sameDocument(TaskOut(full)))
    }

    @Test(
        """
        dates: the days around every leap-year rule and every end of February read back as written; impossible dates \
        are refused
        """
    )
    func days() throws {
        // A sample rather than all 401,767 days of 1900-2999: a long CPU-bound test holds one
        // of the cooperative pool's two threads, and the in-process servers of other tests with it.
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        formatter.timeZone = TimeZone(identifier: "UTC")
        func check(_ day: Date) {
            let text = Day(day).text
            #expect(text == formatter.string(from: day))
            #expect(Day.parse(text) == day)
        }
        var count = 0
        for (from, through) in [
            ("1900-01-01", "1901-01-01"), ("1999-12-01", "2001-01-01"), ("2099-12-01", "2101-01-01"),
            ("2399-12-01", "2401-01-01"), ("2999-01-01", "2999-12-31"),
        ] {
            var day = try #require(Day.parse(from))
            let end = try #require(Day.parse(through))
            while day <= end { check(day); day = day.addingTimeInterval(86_400); count += 1 }
        }
        #expect(count == 366 + 398 + 397 + 398 + 365)  // 1900 and 2100 are not leap years, 2000 and 2400 are
        for year in 1900...2999 {
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
            let february28 = try #require(Day.parse("\(year)-02-28"))
            check(february28)
            #expect((Day.parse("\(year)-02-29") != nil) == leap, "\(year)")
            #expect(Day.parse("\(year)-03-01") == february28.addingTimeInterval(86_400 * (leap ? 2 : 1)), "\(year)")
        }
        for bad in [
            "2026-02-29", "2100-02-29", "2026-04-31", "2026-13-01", "2026-00-10", "2026-01-00", "1899-12-31",
            "3000-01-01",
            "2026-1-01", "26-01-01", "2026/01/01", "2026-01-01T00:00:00Z", "", "２０２６-01-01",
        ] {
            #expect(Day.parse(bad) == nil, "\(bad)")
        }
        #expect(Day.parse("2000-02-29") != nil && Day.parse("2024-02-29") != nil)
    }

    @Test(
        """
        FHIR Observations (items, a safety signal, entered in error, text to escape) and their Bundle by hand are byte \
        for byte the sorted-key Codable encoding
        """
    )
    func fhirObservation() throws {
        let patient = UUID()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func handWritten(_ value: some JSONWritable) -> String {
            var writer = JSONWriter()
            value.write(to: &writer)
            return String(decoding: writer.bytes, as: UTF8.self)
        }
        let taken = Date(timeIntervalSince1970: 1_790_000_000.123456)
        var observations = [
            FHIR.Observation(
                MeasurementItem(
                    id: UUID(), instrument: .phq9, total: 14, items: [2, 2, 1, 1, 2, 2, 1, 2, 1], safetySignal: true,
                    takenAt: taken, recordedBy: nil, enteredInError: nil, updatedAt: taken), patientID: patient),
            FHIR.Observation(
                MeasurementItem(
                    id: UUID(), instrument: .madrs, total: 30, items: nil, safetySignal: false, takenAt: taken,
                    recordedBy: nil,
                    enteredInError: EnteredInError(at: taken, by: nil, reason: "wrong \"patient\" / line\nbreak"),
                    updatedAt: nil), patientID: patient),
            FHIR.Observation(id: UUID(), score: try Score(.gad7, total: 3), takenAt: taken, patientID: patient),
        ]
        observations[2].subject.display = "Zoë ✓"
        for observation in observations {
            #expect(handWritten(observation) == String(decoding: try encoder.encode(observation), as: UTF8.self))
        }
        let bundle = FHIR.Bundle(
            link: [.init(relation: "self", url: "http://x/fhir/R4/Observation?patient=\(patient.lower)")],
            base: "http://x/fhir/R4/Observation/", resources: observations, paths: observations.map(\.id))
        #expect(handWritten(bundle) == String(decoding: try encoder.encode(bundle), as: UTF8.self))
        let empty = FHIR.Bundle<FHIR.Observation>(
            link: [], base: "http://x/fhir/R4/Observation/", resources: [], paths: [])
        #expect(handWritten(empty) == String(decoding: try encoder.encode(empty), as: UTF8.self))
        // A fullUrl is written in two parts, each escaped as the one string would be.
        let escaped = FHIR.Bundle(
            link: [], base: "http://x/\"fhir\"/R4/", resources: [observations[0]], paths: ["Observation/a\\b\n"])
        #expect(handWritten(escaped) == String(decoding: try encoder.encode(escaped), as: UTF8.self))
    }

    @Test(
        """
        every other FHIR resource by hand (Patient, MedicationStatement with dose steps and adherence, Procedure, \
        ServiceRequest, Task with its cause, CareTeam, CarePlan, DocumentReference; fields present and absent) is byte \
        for byte the sorted-key Codable encoding
        """
    )
    func fhirResources() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func same(_ value: some JSONWritable) throws -> Bool {
            var writer = JSONWriter()
            value.write(to: &writer)
            let codable = String(decoding: try encoder.encode(value), as: UTF8.self)
            let fast = String(decoding: writer.bytes, as: UTF8.self)
            if fast != codable { Issue.record("by hand:\n\(fast)\nCodable:\n\(codable)") }
            return fast == codable
        }
        let patient = UUID()
        let now = Date(timeIntervalSince1970: 1_790_000_000.25)
        let started = Date(timeIntervalSince1970: 1_788_220_800)
        #expect(
            try same(
                FHIR.Patient(
                    PatientListItem(
                        id: patient, teamID: UUID(), mrn: "N-1 \"quoted\"", displayName: "Zoë North",
                        status: .discharged, enrolledOn: started, latestPHQ9: nil, isTRD: false, openItems: 0,
                        updatedAt: now))))
        let adequacy = try assessment(
            adequate: true, weeks: 6.5, drugClass: .ssri, reason: "6.5 weeks at or above 50 mg", inputs: [])
        let medication = TrialSummary(
            id: UUID(), kind: .medication, drug: "sertraline", therapy: nil, sessions: nil,
            stopReason: "no response", enteredInError: nil, withdrawnOutcomes: [], startedOn: started,
            stoppedOn: started.addingTimeInterval(70 * 86_400), outcome: .nonResponse, isFailed: true,
            adequacy: adequacy,
            doses: [
                DoseStep(from: started, dailyDoseMg: 50),
                DoseStep(from: started.addingTimeInterval(14 * 86_400), dailyDoseMg: 37.5),
            ], adherence: 0.9, updatedAt: now)
        #expect(try same(FHIR.MedicationStatement(medication, patientID: patient)))
        var bare = medication
        (bare.doses, bare.adherence, bare.adequacy, bare.outcome, bare.stopReason, bare.stoppedOn, bare.updatedAt) = (
            [], nil, nil, nil, nil, nil, nil
        )
        #expect(try same(FHIR.MedicationStatement(bare, patientID: patient)))
        var course = medication
        (course.kind, course.drug, course.therapy, course.doses, course.sessions) = (
            .neuromodulation, nil, "ECT", [], 12
        )
        #expect(try same(FHIR.Procedure(course, patientID: patient)))
        course.enteredInError = EnteredInError(at: now, by: nil, reason: "wrong patient")
        #expect(try same(FHIR.Procedure(course, patientID: patient)))
        let referral = ReferralSummary(
            id: UUID(), kind: .ect, status: .declined, targetClinic: "Clinic / East", createdAt: now,
            reason: "two failed trials", statusReason: "no capacity", enteredInError: nil, updatedAt: now)
        #expect(try same(FHIR.ServiceRequest(referral, patientID: patient)))
        var plain = referral
        (plain.reason, plain.statusReason, plain.updatedAt, plain.kind, plain.status) = (
            nil, nil, nil, .other, .requested
        )
        #expect(try same(FHIR.ServiceRequest(plain, patientID: patient)))
        var task = TaskSummary(
            id: UUID(), patientID: patient, title: "Prior authorisation", status: .cancelled, priority: .urgent,
            ownerID: UUID(), poolRole: .socialWorker, dueAt: now, notBefore: nil, handoffID: UUID(),
            statusReason: "superseded", causes: nil, updatedAt: now)
        task.causes = [
            HandoffCause(
                eventID: 7, summary: "TMS referral", addedAt: now, withdrawnAt: nil, record: .referral(referral.id),
                stepKey: "tms.transport"),
            HandoffCause(
                eventID: 9, summary: "trial failed", addedAt: now, withdrawnAt: now,
                record: .trial(medication.id, .medication)),
        ]
        #expect(try same(FHIR.Task(task)))
        let open = TaskSummary(
            id: UUID(), patientID: patient, title: "Book bloods", status: .requested, priority: .routine,
            ownerID: nil, poolRole: .psychiatrist, dueAt: nil, notBefore: nil, handoffID: nil, statusReason: nil)
        #expect(try same(FHIR.Task(open)))
        let members = [
            TeamMemberItem(
                id: UUID(), displayName: "Dr. A", email: nil, isServiceAccount: false, roles: [.psychiatrist, .admin]),
            TeamMemberItem(id: UUID(), displayName: "EHR", email: nil, isServiceAccount: true, roles: [.integration]),
        ]
        #expect(try same(FHIR.CareTeam(teamID: UUID(), name: "North", members: members)))
        let plan = CarePlan(
            patientID: patient, version: 3,
            content: CarePlanContent(goals: ["PHQ-9 < 5"], problems: ["TRD"], treatmentLine: "Augment, then TMS"),
            authorID: UUID(), updatedAt: now)
        #expect(try same(FHIR.CarePlan(plan, openTasks: [task.id, open.id])))
        let empty = CarePlan(
            patientID: patient, version: 1, content: CarePlanContent(goals: [], problems: [], treatmentLine: ""),
            authorID: nil, updatedAt: now)
        #expect(try same(FHIR.CarePlan(empty, openTasks: [])))
        let note = NoteSummary(
            id: UUID(), authorID: UUID(), authorName: "Dr. A", kind: .progress, body: "Seen.\nSleeping better.",
            amends: UUID(), createdAt: now, amendedBy: [UUID()], enteredInError: nil, updatedAt: now)
        #expect(try same(FHIR.DocumentReference(note, patientID: patient)))
        var original = note
        (original.amends, original.amendedBy, original.updatedAt) = (nil, [], nil)
        #expect(try same(FHIR.DocumentReference(original, patientID: patient)))
    }
}

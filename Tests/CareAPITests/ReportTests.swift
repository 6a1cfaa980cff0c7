@testable import CareAPI
import CareDomain
import CareStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LocalPostgres
import PQ
import Testing
import TestSupport

/// A caseload with one patient per reason of the report, and one on track.
struct ReportClinic {
    var clinic: APIClinic
    var patients: [String: UUID] = [:]
    let now = Date()
    var week: ISOWeek { ISOWeek(containing: now) }

    static let day: TimeInterval = 86_400

    static func make(_ pool: PQPool) async throws -> ReportClinic {
        var r = ReportClinic(clinic: try await APIClinic.make(pool))
        let store = r.clinic.store
        let psychiatrist = r.clinic.members["psychiatrist"]!
        let psychologist = r.clinic.members["psychologist"]!
        let now = r.now
        func ago(_ days: Double) -> Date { now.addingTimeInterval(-days * day) }
        func enrol(_ name: String, daysAgo: Double) async throws -> UUID {
            let id = try await store.createPatient(
                teamID: r.clinic.north, mrn: "R-\(name)", displayName: name, enrolledOn: ago(daysAgo), by: .system())
            r.patients[name] = id
            return id
        }
        func phq9(_ patient: UUID, _ total: Int, daysAgo: Double) async throws {
            _ = try await store.recordMeasurement(
                patientID: patient, score: try Score(.phq9, total: total), takenAt: ago(daysAgo),
                by: .system(actingFor: psychiatrist))
        }

        let safety = try await enrol("Safety", daysAgo: 60)
        try await phq9(safety, 15, daysAgo: 50)
        _ = try await store.recordMeasurement(
            patientID: safety, score: try Score(.phq9, items: [2, 2, 1, 1, 1, 1, 1, 1, 1]), takenAt: now,
            by: .system(actingFor: psychiatrist))

        let new = try await enrol("Newcomer", daysAgo: 0)
        try await phq9(new, 17, daysAgo: 0)

        let stuck = try await enrol("Stuck", daysAgo: 70)
        try await phq9(stuck, 20, daysAgo: 68)
        try await phq9(stuck, 18, daysAgo: 1)

        // Two failed adequate trials, the second recorded now: newly TRD, failed trial this week.
        let trd = try await enrol("Resistant", daysAgo: 300)
        try await phq9(trd, 22, daysAgo: 299)
        try await phq9(trd, 12, daysAgo: 2)
        let first = try await store.startTrial(
            patientID: trd, kind: .medication, drug: "sertraline", dailyDoseMg: 100, startedOn: ago(290),
            by: .system(actingFor: psychiatrist))
        _ = try await store.recordTrialOutcome(
            trialID: first, outcome: .nonResponse, stoppedOn: ago(200), adherence: 0.9,
            by: .system(actingFor: psychiatrist))
        let second = try await store.startTrial(
            patientID: trd, kind: .medication, drug: "venlafaxine", dailyDoseMg: 225, startedOn: ago(190),
            by: .system(actingFor: psychiatrist))
        _ = try await store.recordTrialOutcome(
            trialID: second, outcome: .nonResponse, stoppedOn: ago(1), adherence: 0.9,
            by: .system(actingFor: psychiatrist))

        let referred = try await enrol("Referred", daysAgo: 40)
        try await phq9(referred, 18, daysAgo: 39)
        try await phq9(referred, 8, daysAgo: 3)
        _ = try await store.makeReferral(
            patientID: referred, kind: .other, targetClinic: "Day programme", by: .system(actingFor: psychiatrist))

        let late = try await enrol("Late", daysAgo: 30)
        try await phq9(late, 16, daysAgo: 29)
        try await phq9(late, 7, daysAgo: 2)
        _ = try await store.createTask(
            patientID: late, title: "Call the pharmacy", poolRole: .socialWorker, dueAt: ago(1),
            by: .system(actingFor: psychiatrist))

        let silent = try await enrol("Silent", daysAgo: 80)
        try await phq9(silent, 20, daysAgo: 75)
        try await phq9(silent, 8, daysAgo: 45)

        let remitted = try await enrol("Remitted", daysAgo: 120)
        try await phq9(remitted, 18, daysAgo: 118)
        try await phq9(remitted, 3, daysAgo: 4)

        let steady = try await enrol("Steady", daysAgo: 20)
        try await phq9(steady, 15, daysAgo: 19)
        try await phq9(steady, 10, daysAgo: 2)
        // A psychotherapy note: never in the report, and not counted as a contact.
        _ = try await store.addNote(
            patientID: silent, kind: .psychotherapy, body: "THERAPY-SECRET about the divorce",
            by: .system(actingFor: psychologist))
        return r
    }
}

@Suite("The weekly case-review report", .timeLimit(.minutes(3)))
struct ReportTests {
    func path(_ r: ReportClinic, _ format: String = "json") -> String {
        "/v1/teams/\(r.clinic.north.lower)/reports/weekly/\(r.week)?format=\(format)"
    }

    @Test("every priority rule lists its patient, in docs/domain.md's order; a patient on track is not listed")
    func priorityRules() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let r = try await ReportClinic.make(pool)
            try await r.clinic.app().test(.router) { client async throws in
                let reply = try await client.call(.get, path(r), token: r.clinic.tokens["psychiatrist"])
                #expect(reply.status == .ok, "\(reply.text)")
                let patients = try #require(reply.json["patients"] as? [[String: Any]])
                let order = patients.compactMap { $0["display_name"] as? String }
                let firstReasons = patients.compactMap {
                    ($0["reasons"] as? [[String: Any]])?.first?["kind"] as? String
                }
                // Within a rank, the longest in treatment first. The fixture's Ada North has had no contact
                // since enrolment.
                #expect(
                    order == [
                        "Safety", "Newcomer", "Resistant", "Stuck", "Referred", "Late", "Ada North", "Silent",
                        "Remitted",
                    ], "\(order) \(firstReasons)")
                #expect(
                    firstReasons == [
                        "safety", "new-patient", "not-improving", "not-improving", "referral", "overdue", "no-contact",
                        "no-contact", "remission",
                    ])
                #expect(!order.contains("Steady"))
                let resistant = try #require(patients.first { $0["display_name"] as? String == "Resistant" })
                let kinds = (resistant["reasons"] as? [[String: Any]])?.compactMap { $0["kind"] as? String } ?? []
                #expect(kinds == ["not-improving", "newly-trd", "failed-trial", "failed-trial"], "\(kinds)")
                #expect(resistant["is_trd"] as? Bool == true && resistant["thase_rush_stage"] as? String == "II")
                let silent = try #require(patients.first { $0["display_name"] as? String == "Silent" })
                #expect(
                    ((silent["reasons"] as? [[String: Any]])?.first?["text"] as? String)?.contains("6 weeks") == true,
                    "\(silent)")
                let late = try #require(patients.first { $0["display_name"] as? String == "Late" })
                #expect((late["open_tasks"] as? [[String: Any]])?.first?["overdue"] as? Bool == true)
                let stuck = try #require(patients.first { $0["display_name"] as? String == "Stuck" })
                #expect((stuck["trend"] as? [[String: Any]])?.compactMap { $0["total"] as? Int } == [20, 18])
                #expect(stuck["weeks_in_treatment"] as? Int == 10)
            }
        }
    }

    @Test("caseload figures: size, response and remission rates, contacts, new patients, handoffs acknowledged on time")
    func rates() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let r = try await ReportClinic.make(pool)
            // One of the Resistant patient's handoffs acknowledged in time.
            let handoff = try await pool.query(
                """
                SELECT id FROM handoffs WHERE patient_id = \(r.patients["Resistant"]!) AND role = 'psychologist' LIMIT 1
                """
            )[0].decode(UUID.self, at: 0)
            try await r.clinic.store.acknowledgeHandoff(
                handoff, by: .system(actingFor: r.clinic.members["psychologist"]!))
            let now = Date()
            let report = WeeklyReport(
                try await r.clinic.store.weeklyReview(teamID: r.clinic.north, week: r.week, now: now, by: .system()))
            let c = report.caseload
            // North: the fixture's Ada North (no scores) and the nine patients above.
            #expect(c.size == 10)
            // With a baseline and a later PHQ-9: all but Ada and Newcomer (one score each; Safety has two).
            #expect(c.measured == 8)
            // At least 50% better: Resistant 22→12 (45%, no), Referred 18→8, Late 16→7, Silent 20→8,
            // Remitted 18→3; Stuck, Steady, Safety no.
            #expect(c.responders == 4)
            #expect(c.remitters == 1)
            #expect(c.responseRate == 0.5 && c.remissionRate == 0.125)
            #expect(c.newPatients == 1)
            // Handoffs made this week (two failed trials of one patient: 3, the second joining them; TRD: 1; the
            // safety signal: 2); the one acknowledged was in time.
            let made = try await pool.query(
                """
                SELECT count(*) FROM handoffs h JOIN patients p ON p.id = h.patient_id WHERE p.team_id =
                    \(r.clinic.north) AND h.created_at >= \(r.week.start)
                """)[0].decode(Int.self, at: 0)
            #expect(made >= 6 && c.handoffsProduced == made)
            #expect(
                c.handoffsAcknowledgedOnTime == 1 && c.handoffsAcknowledgedLate == 0
                    && c.handoffsUnacknowledged == made - 1)
            // Contacts this week: the measurements taken this week (psychotherapy notes do not count).
            let expected = try await pool.query(
                """
                SELECT count(*) FROM measurements m JOIN patients p ON p.id = m.patient_id
                WHERE p.team_id = \(r.clinic.north) AND m.taken_at >= \(r.week.start) AND m.taken_at < \(now)
                """)[0].decode(Int.self, at: 0)
            #expect(c.contactsThisWeek == expected)
            #expect(c.listed == report.patients.count)
        }
    }

    @Test(
        """
        formats: self-contained HTML with an SVG trend per patient, Markdown, CSV one row per patient; no \
        psychotherapy note anywhere
        """
    )
    func formats() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let r = try await ReportClinic.make(pool)
            // Two trials running at once (a medication and its augmentation): the report shows both.
            for (drug, dose, daysAgo) in [("sertraline", 100.0, 60.0), ("bupropion", 150.0, 10.0)] {
                _ = try await r.clinic.store.startTrial(
                    patientID: r.patients["Stuck"]!, kind: .medication, drug: drug, dailyDoseMg: dose,
                    startedOn: r.now.addingTimeInterval(-daysAgo * ReportClinic.day),
                    by: .system(actingFor: r.clinic.members["psychiatrist"]!))
            }
            try await r.clinic.app().test(.router) { client async throws in
                let html = try await client.call(.get, path(r, "html"), token: r.clinic.tokens["psychologist"])
                #expect(html.status == .ok)
                #expect(html.headers[.contentType] == "text/html; charset=utf-8")
                #expect(html.text.contains("<style>") && html.text.contains("size: A4 landscape"))
                #expect(
                    !html.text.contains("<script") && !html.text.contains("src=\"http") && !html.text.contains("<link"))
                #expect(html.text.components(separatedBy: "<svg class=\"trend\"").count - 1 == 9)
                #expect(html.text.contains("50% of baseline") && html.text.contains("remission (PHQ-9"))
                // The chart's lines are labelled on it, and its first and latest dates are shown.
                #expect(html.text.contains(">50%</text>") && html.text.contains(">remit</text>"))
                #expect(html.text.contains("class=\"value\""))
                #expect(html.text.contains("class=\"holder\""), "open work grouped by who holds it")
                let md = try await client.call(.get, path(r, "md"), token: r.clinic.tokens["psychologist"])
                #expect(
                    md.text.hasPrefix("# North: weekly case review, \(r.week)") && md.text.contains("## Safety signal"))
                // Stuck (not improving) and Resistant (newly TRD) are discussed together, under a heading
                // that names both, never under the other's alone.
                #expect(md.text.contains("## Not improving or newly treatment-resistant\n"), "\(md.text)")
                #expect(!md.text.contains("## Newly treatment-resistant") && !md.text.contains("## Not improving\n"))
                #expect(html.text.contains("<h2>Not improving or newly treatment-resistant</h2>"))
                #expect(
                    md.text.contains("sertraline, week 8 (since") && md.text.contains(" + bupropion, week 1 (since"))
                let csv = try await client.call(.get, path(r, "csv"), token: r.clinic.tokens["psychologist"])
                let rows = csv.text.split(separator: "\r\n")
                #expect(rows.count == 1 + 9)
                #expect(rows.first?.hasPrefix("rank,first_reason,reasons,patient_id") == true)
                let json = try await client.call(.get, path(r, "json"), token: r.clinic.tokens["psychologist"])
                let stuck = try #require(
                    (json.json["patients"] as? [[String: Any]])?.first { $0["display_name"] as? String == "Stuck" })
                let ongoing = (stuck["ongoing_trials"] as? [[String: Any]])?.compactMap { $0["drug"] as? String }
                #expect(ongoing == ["sertraline", "bupropion"])
                #expect((stuck["current_trial"] as? [String: Any])?["drug"] as? String == "bupropion")
                // Open handoffs say what to do (their task's title), as the queue does; the Markdown shows it.
                let handoffs = ((json.json["patients"] as? [[String: Any]]) ?? []).flatMap {
                    ($0["open_handoffs"] as? [[String: Any]]) ?? []
                }
                let titles = try await pool.query(
                    """
                    SELECT DISTINCT t.title FROM handoffs h JOIN tasks t ON t.id = h.task_id
                    WHERE h.acknowledged_at IS NULL AND h.superseded_at IS NULL
                    """
                ).column(String.self)
                #expect(!handoffs.isEmpty)
                for handoff in handoffs {
                    let title = try #require(handoff["title"] as? String)
                    #expect(titles.contains(title) && title != handoff["reason"] as? String, "\(handoff)")
                }
                #expect(md.text.contains("Handoff: Urgent safety assessment"), "\(md.text)")
                for reply in [html, md, csv, json] {
                    #expect(!reply.text.contains("THERAPY-SECRET") && !reply.text.contains("divorce"))
                }
                #expect(
                    try await client.call(.get, path(r, "pdf"), token: r.clinic.tokens["psychologist"]).status
                        == .badRequest)
                let badWeek = try await client.call(
                    .get, "/v1/teams/\(r.clinic.north.lower)/reports/weekly/2025-W53",
                    token: r.clinic.tokens["psychologist"])
                #expect(badWeek.status == .badRequest, "2025 has 52 ISO weeks")
            }
        }
    }

    @Test(
        """
        team members and the compliance role may read it; admins and other teams may not; each listed patient's read \
        is audited
        """
    )
    func accessAndAudit() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let r = try await ReportClinic.make(pool)
            try await r.clinic.app().test(.router) { client async throws in
                for name in ["psychiatrist", "socialWorker", "compliance", "readOnlyService"] {
                    #expect(try await client.call(.get, path(r), token: r.clinic.tokens[name]).status == .ok, "\(name)")
                }
                #expect(try await client.call(.get, path(r), token: r.clinic.tokens["admin"]).status == .forbidden)
                #expect(
                    try await client.call(.get, path(r), token: r.clinic.tokens["southPsychiatrist"]).status
                        == .notFound)
            }
            let audited = try await pool.query(
                """
                SELECT count(DISTINCT patient_id) FROM audit_entries WHERE action = 'report.weekly' AND member_id =
                    \(r.clinic.members["compliance"]!)
                """)[0].decode(Int.self, at: 0)
            #expect(audited == 9)
        }
    }

    @Test(
        """
        a snapshot keeps the report as shown, cannot be changed, and takes recommendations as case-review notes and \
        tasks
        """
    )
    func snapshots() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let r = try await ReportClinic.make(pool)
            try await r.clinic.app().test(.router) { client async throws in
                let base = "/v1/teams/\(r.clinic.north.lower)/reports/weekly/\(r.week)"
                let kept = try await client.call(.post, base + "/snapshots", token: r.clinic.tokens["psychiatrist"])
                #expect(kept.status == .created, "\(kept.text)")
                let id = try #require(kept.json["id"] as? String)
                let shown = try await client.call(
                    .get, "/v1/report-snapshots/\(id)?format=html", token: r.clinic.tokens["psychiatrist"])
                #expect(shown.status == .ok && shown.text.contains("Newcomer"))

                // The data moves on; the snapshot does not.
                _ = try await r.clinic.store.createPatient(
                    teamID: r.clinic.north, mrn: "R-Later", displayName: "Later Arrival", enrolledOn: Date(),
                    by: .system())
                let live = try await client.call(.get, base + "?format=html", token: r.clinic.tokens["psychiatrist"])
                #expect(live.text.contains("Later Arrival"))
                let again = try await client.call(
                    .get, "/v1/report-snapshots/\(id)?format=html", token: r.clinic.tokens["psychiatrist"])
                #expect(again.text == shown.text)
                let json = try await client.call(
                    .get, "/v1/report-snapshots/\(id)", token: r.clinic.tokens["psychiatrist"])
                #expect(((json.json["report"] as? [String: Any])?["patients"] as? [[String: Any]])?.count == 9)
                await #expect(throws: PQError.self) {
                    try await pool.query("UPDATE report_snapshots SET html = 'forged'")
                }
                await #expect(throws: PQError.self) { try await pool.query("DELETE FROM report_snapshots") }
                let list = try await client.call(.get, base + "/snapshots", token: r.clinic.tokens["socialWorker"])
                #expect(list.items.map { $0["id"] as? String } == [id])

                let patient = r.patients["Stuck"]!.lower
                let recommended = try await client.call(
                    .post, "/v1/report-snapshots/\(id)/recommendations", token: r.clinic.tokens["psychiatrist"],
                    json:
                        #"""
                        {"patient_id": "\#(patient)", "text": "Switch to bupropion augmentation", "task": {"title": \#
                        "Start bupropion 150 mg", "role": "psychiatrist"}}
                        """#
                )
                #expect(recommended.status == .created, "\(recommended.text)")
                let notes = try await client.call(
                    .get, "/v1/patients/\(patient)/notes", token: r.clinic.tokens["socialWorker"])
                #expect(
                    notes.items.contains {
                        $0["kind"] as? String == "case-review"
                            && ($0["body"] as? String)?.contains("Switch to bupropion") == true
                    })
                let queue = try await client.call(.get, "/v1/tasks", token: r.clinic.tokens["psychiatrist"])
                #expect(queue.items.contains { $0["title"] as? String == "Start bupropion 150 mg" })
                let counted = try await client.call(.get, base + "/snapshots", token: r.clinic.tokens["psychiatrist"])
                #expect(counted.items.first?["recommendations"] as? Int == 1)
                // Someone of another team cannot record against it; the compliance role cannot keep one.
                let stranger = try await client.call(
                    .post, "/v1/report-snapshots/\(id)/recommendations", token: r.clinic.tokens["southPsychiatrist"],
                    json: #"{"patient_id": "\#(patient)", "text": "x"}"#)
                #expect(stranger.status == .notFound)
                #expect(
                    try await client.call(.post, base + "/snapshots", token: r.clinic.tokens["compliance"]).status
                        == .forbidden)
            }
        }
    }

    @Test("the hand-written JSON of the report is the document the Codable encoder writes")
    func handWrittenJSON() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let r = try await ReportClinic.make(pool)
            let report = WeeklyReport(
                try await r.clinic.store.weeklyReview(teamID: r.clinic.north, week: r.week, by: .system()))
            let fast = try JSONSerialization.jsonObject(with: Data(ReportJSON.encode(report))) as? NSDictionary
            let codable = try JSONSerialization.jsonObject(with: Wire.plainEncoder.encode(report)) as? NSDictionary
            func difference(_ a: Any?, _ b: Any?, _ path: String) -> String? {
                if let a = a as? NSDictionary, let b = b as? NSDictionary {
                    for key in Set((a.allKeys + b.allKeys).compactMap { $0 as? String }).sorted() {
                        if let found = difference(a[key], b[key], path + "." + key) { return found }
                    }
                    return nil
                }
                if let a = a as? [Any], let b = b as? [Any] {
                    guard a.count == b.count else { return "\(path): \(a.count) items against \(b.count)" }
                    for (index, pair) in zip(a, b).enumerated() {
                        if let found = difference(pair.0, pair.1, path + "[\(index)]") { return found }
                    }
                    return nil
                }
                return (a as? NSObject) == (b as? NSObject)
                    ? nil : "\(path): \(String(describing: a)) against \(String(describing: b))"
            }
            #expect(fast != nil && fast == codable, "\(difference(fast, codable, "") ?? "")")
            #expect(((fast?["patients"] as? [Any])?.count ?? 0) == 9)
        }
    }

    @Test(
        """
        the browser check: headless Chromium renders the HTML report to a PNG of the expected size that is not blank; \
        on A4 landscape nothing overflows and a patient with 20 open items keeps a row under 420 px
        """
    )
    func browserCheck() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let r = try await ReportClinic.make(pool)
            let report = WeeklyReport(
                try await r.clinic.store.weeklyReview(teamID: r.clinic.north, week: r.week, by: .system()))
            let html = try await r.clinic.app().test(.router) { client async throws in
                try await client.call(.get, path(r, "html"), token: r.clinic.tokens["psychiatrist"]).text
            }
            #expect(report.patients.count == 9)
            let directory =
                FileManager.default.temporaryDirectory.path + "/care-report-\(UInt32.random(in: 0...UInt32.max))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try html.write(toFile: directory + "/report.html", atomically: true, encoding: .utf8)
            try "<!DOCTYPE html><html><body></body></html>".write(
                toFile: directory + "/blank.html", atomically: true, encoding: .utf8)
            let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
                FileManager.default.isExecutableFile(atPath: $0)
            }
            let browser = try #require(chromium, "chromium is not installed: deploy/setup --tests installs it")
            func shoot(_ name: String) async throws -> Data {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: browser)
                process.arguments = [
                    "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1400,1000",
                    "--user-data-dir=\(directory)/profile", "--screenshot=\(directory)/\(name).png",
                    "file://\(directory)/\(name).html",
                ]
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                try await LocalPostgres.offload { process.waitUntilExit() }
                #expect(process.terminationStatus == 0)
                return try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(name).png"))
            }
            let png = try await shoot("report")
            let blank = try await shoot("blank")
            // PNG signature, then IHDR: width and height, big-endian.
            #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
            func dimension(_ offset: Int) -> Int { png[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) } }
            #expect(dimension(16) == 1400 && dimension(20) == 1000, "\(dimension(16))x\(dimension(20))")
            // A white page compresses to almost nothing; text, tables and charts do not.
            #expect(
                png.count > 10 * blank.count && png.count > 40_000,
                "report \(png.count) bytes, blank page \(blank.count) bytes")

            // On A4 landscape (1123 x 794 CSS pixels), nothing overflows the page's width, and a
            // patient with twenty open items keeps a row under 420 pixels: the browser measures
            // its own layout (a script added to a copy for the test) and the DOM it dumps says so.
            var crowded = report
            crowded.patients[0].openTasks += (1...20).map { index in
                ReportTask(
                    title: "Follow-up call \(index) about the housing benefit appeal and the transport to the clinic",
                    status: "requested", priority: "routine",
                    assignee: ["psychiatrist", "psychologist", "social_worker", "care_manager"][index % 4],
                    dueAt: Date().addingTimeInterval(Double(index - 5) * 86_400), overdue: index < 5)
            }
            let measuring = """
                <script>
                window.addEventListener('load', () => {
                  const rows = [...document.querySelectorAll('tbody tr')].map(r => r.getBoundingClientRect().height);
                  document.body.setAttribute('data-check', [
                    document.documentElement.scrollWidth, window.innerWidth, Math.round(rows[0]), \
                Math.round(Math.max(...rows)),
                    rows.length].join(' '));
                });
                </script></body>
                """
            try ReportRendering.html(crowded).replacingOccurrences(of: "</body>", with: measuring).write(
                toFile: directory + "/crowded.html", atomically: true, encoding: .utf8)
            let dump = Process()
            dump.executableURL = URL(fileURLWithPath: browser)
            dump.arguments = [
                "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1123,794",
                "--user-data-dir=\(directory)/profile", "--virtual-time-budget=5000", "--dump-dom",
                "file://\(directory)/crowded.html",
            ]
            let out = Pipe()
            dump.standardOutput = out
            dump.standardError = FileHandle.nullDevice
            try dump.run()
            let dom = String(
                decoding: try await LocalPostgres.offload { out.fileHandleForReading.readDataToEndOfFile() },
                as: UTF8.self)
            try await LocalPostgres.offload { dump.waitUntilExit() }
            let check = try #require(dom.firstMatch(of: /data-check="([0-9 ]+)"/)?.1, "no measurement in the DOM")
            let numbers = check.split(separator: " ").compactMap { Int($0) }
            #expect(numbers.count == 5, "\(check)")
            let (scrollWidth, viewport, crowdedRow, tallest, rows) = (
                numbers[0], numbers[1], numbers[2], numbers[3], numbers[4]
            )
            #expect(rows == 9, "\(rows) rows")
            #expect(scrollWidth <= viewport, "the page is \(scrollWidth) px wide in a \(viewport) px viewport")
            #expect(crowdedRow < 420, "the row of the patient with 20 more open items is \(crowdedRow) px high")
            #expect(tallest < 420, "the tallest row is \(tallest) px")
            #expect(crowded.patients[0].openTasks.count >= 20)
        }
    }
}

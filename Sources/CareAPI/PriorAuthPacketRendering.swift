import CareDomain
import CareStore
import CoreFormats
import Foundation
import Synchronization

/// A packet as a self-contained printable page (A4, no external resources) and, from that page,
/// a PDF printed by headless Chromium (docs/prior-authorisation.md, "The packet").
enum PacketRendering {
    /// HTML text, escaped as the report escapes it (one escape for every page CareRelay writes).
    static func escape(_ text: String) -> String { ReportRendering.escape(text) }

    static func mg(_ value: Double) -> String {
        value.rounded() == value ? "\(Int(value)) mg" : "\(value) mg"
    }

    static func score(_ line: PriorAuthPacket.ScoreLine?) -> String {
        guard let line else { return "–" }
        return "\(line.instrument) \(line.total) (\(ReportRendering.day(line.takenAt)))"
    }

    /// The page, its instants (a score, a note, when it was prepared) on the team's calendar
    /// (docs/time-zones.md); a packet made before the zone was kept is in UTC.
    static func html(_ stored: StoredPacket) -> String {
        let zone = stored.packet.timeZone.flatMap(TimeZone.init(identifier:)) ?? TimeZone(identifier: "UTC")!
        return ReportRendering.$zone.withValue(zone) { page(stored) }
    }

    private static func page(_ stored: StoredPacket) -> String {
        let p = stored.packet
        let answers = p.answersDenial.map {
            "<tr><td><b>Answers</b></td><td>the denial of \($0.deniedOn) (packet \($0.packetId)): "
                + "\(escape($0.reason))</td></tr>"
        }
        let requested = p.sessionsRequested.map { "\($0) sessions" } ?? "as the treating clinic plans"
        let summary =
            p.allMet
            ? "Every criterion below is met, with its evidence."
            : "Not every criterion is met: see what is missing below."
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <title>Prior authorisation: \(escape(p.referral.kind.uppercased())) for \(escape(p.patient.name))</title>
            <style>
            @page { size: A4; margin: 14mm 12mm; }
            body { font: 10pt/1.35 "Liberation Sans", Arial, sans-serif; color: #111; margin: 0; }
            h1 { font-size: 15pt; margin: 0 0 2mm; }
            h2 { font-size: 11.5pt; margin: 5mm 0 1.5mm; border-bottom: 1px solid #999; }
            table { border-collapse: collapse; width: 100%; page-break-inside: auto; } tr { page-break-inside: avoid; }
            th, td { border: 1px solid #bbb; padding: 1.2mm 1.5mm; text-align: left; vertical-align: top; font-size: \
            9pt; }
            th { background: #eee; }
            .met { color: #0a6b2b; font-weight: bold; }
            .unmet { color: #a40000; font-weight: bold; }
            .meta td { border: none; padding: 0.4mm 2mm 0.4mm 0; } .small { font-size: 8.5pt; color: #444; }
            .summary { padding: 2mm 3mm; border: 2px solid; margin: 2mm 0; }
            .summary.ok { border-color: #0a6b2b; }
            .summary.no { border-color: #a40000; }
            </style></head><body>
            <h1>Prior authorisation request: \(escape(p.referral.kind.uppercased()))</h1>
            <table class="meta">
            <tr><td><b>Patient</b></td><td>\(escape(p.patient.name)), MRN \(escape(p.patient.mrn)), born \
            \(escape(p.patient.birthDate ?? "not recorded"))</td></tr>
            <tr><td><b>Care team</b></td><td>\(escape(p.patient.team)); enrolled \(p.patient.enrolledOn); current \
            episode since \(p.patient.episodeStartedOn)</td></tr>
            <tr><td><b>Referral</b></td><td>\(escape(p.referral.kind.uppercased())) to \
            \(escape(p.referral.targetClinic)), made \(p.referral.madeOn) \
            (\(escape(p.referral.status)))\(p.referral.reason.map { "; \(escape($0))" } ?? "")</td></tr>
            <tr><td><b>Prescriber</b></td><td>\(escape(p.prescriber?.name ?? "not recorded"))</td></tr>
            \(answers ?? "")
            <tr><td><b>Requested</b></td><td>\(requested)</td></tr>
            <tr><td><b>Prepared</b></td><td>\(ReportRendering.time(p.madeAt)) by \(escape(p.madeBy.name)), against \
            "\(escape(p.criteriaSet))"; packet \(stored.id.lowercasedString)</td></tr>
            </table>
            <div class="summary \(p.allMet ? "ok" : "no")">\(summary)</div>
            <h2>Criteria</h2>
            <table><tr><th style="width:32%">Criterion</th><th style="width:8%">Met</th><th>Evidence</th></tr>
            """
        func criterion(_ c: PriorAuthPacket.Criterion, depth: Int) {
            let evidence = c.evidence.map(escape).joined(separator: "<br>")
            let missing = c.toMeet.map { (evidence.isEmpty ? "" : "<br>") + "<i>To meet it: \(escape($0))</i>" } ?? ""
            h += "<tr><td style=\"padding-left:\(1.5 + Double(depth) * 5)mm\">\(escape(c.statement))</td>"
            h +=
                """
                <td \
                class=\"\(c.isMet ? "met" : "unmet")\">\(c.isMet ? "Yes" : "No")</td><td>\(evidence)\(missing)</td></tr>
                """
            for part in c.parts ?? [] { criterion(part, depth: depth + 1) }
        }
        for c in p.criteria { criterion(c, depth: 0) }
        h += "</table>"
        h += "<h2>Antidepressant trials (medication and augmentation)</h2>"
        h += trialTable(p.medicationTrials, medication: true)
        h += "<h2>Psychotherapy and other courses</h2>"
        h += trialTable(p.otherCourses, medication: false)
        h += "<h2>Treatment resistance and stage</h2><table>"
        h +=
            """
            <tr><th>Treatment-resistant depression</th><td>\(p.staging.isTrd ? "Yes" : "No"): \
            \(p.staging.failedTrials) failed adequate trials, \(p.staging.distinctClasses) classes</td></tr>
            """
        h += "<tr><th>Thase-Rush stage</th><td>\(p.staging.thaseRushStage)</td></tr>"
        if let total = p.staging.maudsleyTotal {
            h += "<tr><th>Maudsley Staging Method</th><td>\(total) (\(escape(p.staging.maudsleyBand ?? "")))</td></tr>"
        }
        let inputs = (p.staging.trdInputs + p.staging.thaseRushInputs + p.staging.maudsleyInputs).map {
            "\(escape($0.name)): \(escape($0.value))"
        }
        h += "<tr><th>Inputs</th><td class=\"small\">\(inputs.joined(separator: "; "))</td></tr></table>"
        h += "<h2>Scores</h2>" + chart(p.scores)
        h += "<table><tr><th>Taken</th><th>Instrument</th><th>Total</th><th>Band</th></tr>"
        for s in p.scores.suffix(40) {
            h +=
                "<tr><td>\(ReportRendering.day(s.takenAt))</td><td>\(escape(s.instrument))</td>"
                + "<td>\(s.total)</td><td>\(escape(s.band))</td></tr>"
        }
        h += "</table>"
        if p.scores.count > 40 {
            h += "<p class=\"small\">The latest 40 of \(p.scores.count) scores; the chart shows all.</p>"
        }
        h += "<h2>Contraindication screens</h2>"
        if p.screens.isEmpty {
            h += "<p>None recorded.</p>"
        } else {
            h += "<table><tr><th>Treatment</th><th>Completed</th><th>Answers</th><th>Found</th></tr>"
            for s in p.screens {
                let answers = s.answers.sorted { $0.key < $1.key }.map {
                    "\(escape($0.key)): \($0.value ? "yes" : "no")"
                }
                h +=
                    """
                    <tr><td>\(s.treatment.uppercased())</td><td>\(s.completedOn)</td><td \
                    class=\"small\">\(answers.joined(separator: "<br>"))</td>
                    """
                let findings = s.findings.isEmpty ? "nothing" : escape(s.findings.joined(separator: ", "))
                h += "<td>\(findings)\(s.note.map { "<br>\(escape($0))" } ?? "")</td></tr>"
            }
            h += "</table>"
        }
        if let notes = p.notes, !notes.isEmpty {
            h +=
                """
                <h2>Clinical notes (included on request)</h2><table><tr><th \
                style=\"width:22%\">Written</th><th>Note</th></tr>
                """
            for note in notes {
                h +=
                    """
                    <tr><td>\(ReportRendering.day(note.writtenAt))<br>\(escape(note.kind)), \(escape(note.author))</td>
                    """
                h += "<td>\(escape(note.text).replacingOccurrences(of: "\n", with: "<br>"))</td></tr>"
            }
            h += "</table>"
        }
        if !p.documented.isEmpty {
            h += "<h2>Documented</h2><table>"
            for (key, text) in p.documented.sorted(by: { $0.key < $1.key }) {
                h += "<tr><th style=\"width:25%\">\(escape(key))</th><td>\(escape(text))</td></tr>"
            }
            h += "</table>"
        }
        h +=
            "<p class=\"small\">Prepared by CareRelay from the care team's structured records; "
            + (p.notes == nil
                ? "clinical notes are not included." : "team notes included on request; psychotherapy notes never.")
            + "</p>"
        h += "</body></html>\n"
        return h
    }

    static func trialTable(_ trials: [PriorAuthPacket.Trial], medication: Bool) -> String {
        guard !trials.isEmpty else { return "<p>None recorded.</p>" }
        var h = "<table><tr><th>\(medication ? "Drug (class)" : "Course")</th><th>Dates</th>"
        h += "<th>\(medication ? "Doses" : "Sessions")</th>"
        h += "<th>Adequacy</th><th>Adherence</th><th>Outcome, reason stopped</th><th>Score before → after</th></tr>"
        for t in trials {
            let name = escape(t.name) + (t.drugClass.map { " (\(escape($0)))" } ?? "")
            let doses =
                medication
                ? t.doses.map { "\(mg($0.dailyDoseMg)) from \($0.from)" }.joined(separator: "<br>")
                : (t.sessions.map { "\($0)" } ?? "–")
            let adequacy =
                (t.isAdequate.map { $0 ? "adequate" : "not adequate" } ?? "–")
                + (t.weeksAtAdequateDose.map { medication ? ", \($0) weeks at an adequate dose" : "" } ?? "")
            let outcome = [t.outcome.map { $0 + (t.isFailed ? " (failed trial)" : "") }, t.stopReason].compactMap { $0 }
            h +=
                """
                <tr><td>\(name)</td><td>\(t.startedOn) to \
                \(t.stoppedOn ?? "now")</td><td>\(doses)</td><td>\(escape(adequacy))</td>
                """
            h += "<td>\(t.adherence.map { "\(Int(($0 * 100).rounded()))%" } ?? "–")</td>"
            h += "<td>\(escape(outcome.isEmpty ? "under way" : outcome.joined(separator: "; ")))</td>"
            h += "<td>\(escape(score(t.scoreBefore))) → \(escape(score(t.scoreAfter)))</td></tr>"
        }
        return h + "</table>"
    }

    /// The PHQ-9 (and MADRS) timeline as an inline SVG.
    static func chart(_ scores: [PriorAuthPacket.ScoreLine]) -> String {
        let phq9 = scores.filter { $0.instrument == "PHQ-9" }
        guard phq9.count >= 2, let first = phq9.first?.takenAt, let last = phq9.last?.takenAt else { return "" }
        let (width, height, left, bottom, top) = (640.0, 150.0, 30.0, 18.0, 8.0)
        let span = max(last.timeIntervalSince(first), 86_400)
        func x(_ date: Date) -> Double { left + (width - left - 10) * date.timeIntervalSince(first) / span }
        func y(_ total: Int) -> Double { top + (height - top - bottom) * (1 - Double(min(27, total)) / 27) }
        var svg =
            """
            <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" \
            aria-label=\"PHQ-9 over time\">
            """
        for line in [5, 10, 15, 20] {
            svg += "<line x1=\"\(left)\" x2=\"\(width - 10)\" y1=\"\(y(line))\" y2=\"\(y(line))\" stroke=\"#ddd\"/>"
            svg += "<text x=\"2\" y=\"\(y(line) + 3)\" font-size=\"8\" fill=\"#666\">\(line)</text>"
        }
        let points = phq9.map { "\(String(format: "%.1f", x($0.takenAt))),\(String(format: "%.1f", y($0.total)))" }
        svg +=
            """
            <polyline fill=\"none\" stroke=\"#1f4e9c\" stroke-width=\"1.5\" \
            points=\"\(points.joined(separator: " "))\"/>
            """
        svg +=
            "<text x=\"\(left)\" y=\"\(height - 4)\" font-size=\"8\" fill=\"#666\">\(ReportRendering.day(first))</text>"
        svg +=
            """
            <text x=\"\(width - 10)\" y=\"\(height - 4)\" font-size=\"8\" fill=\"#666\" \
            text-anchor=\"end\">\(ReportRendering.day(last))</text>
            """
        return svg + "</svg>"
    }

    /// The page printed to PDF by headless Chromium (CARE_CHROMIUM, else chromium on the PATH).
    static func pdf(_ html: String) async throws -> [UInt8] {
        guard let browser = chromium() else {
            throw Problem(
                "pdf-unavailable", title: "PDF unavailable", status: .serviceUnavailable,
                detail:
                    """
                    PDF packets are printed by headless Chromium, which this server does not have (set CARE_CHROMIUM, \
                    or install chromium: deploy/setup does); format=html is the same page, to print from a browser
                    """
            )
        }
        let directory = FileManager.default.temporaryDirectory.path + "/carerelay-packet-\(UUID().lowercasedString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try html.write(toFile: directory + "/packet.html", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: browser)
        process.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
            "--user-data-dir=\(directory)/profile", "--print-to-pdf=\(directory)/packet.pdf",
            "file://\(directory)/packet.html",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        guard status == 0, let data = FileManager.default.contents(atPath: directory + "/packet.pdf"), !data.isEmpty
        else {
            throw Problem(
                "pdf-failed", title: "PDF failed", status: .internalServerError,
                detail: "Chromium could not print the packet (exit \(status)); format=html is the same page")
        }
        return Array(data)
    }

    static func chromium() -> String? {
        if let configured = ProcessInfo.processInfo.environment["CARE_CHROMIUM"], !configured.isEmpty {
            return FileManager.default.isExecutableFile(atPath: configured) ? configured : nil
        }
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
                let path = "\(directory)/\(name)"
                if FileManager.default.isExecutableFile(atPath: path) { return path }
            }
        }
        return nil
    }
}

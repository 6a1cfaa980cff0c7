import CoreFormats
import CareDomain
import CareStore
import Foundation

/// The weekly report as HTML (self-contained: inline CSS and SVG, for the screen and A4
/// landscape paper), Markdown and CSV (one row per listed patient). JSON is the report itself.
enum ReportRendering {
    /// The team's zone while a report renders (docs/time-zones.md): its instants (a score, a
    /// due time, a last contact) are shown on the team's calendar; its dates (a trial's start)
    /// stay the dates they are.
    @TaskLocal static var zone = TimeZone(identifier: "UTC")!

    /// The day an instant falls on in the team's zone.
    static func day(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: zone).year().month().day())
    }
    /// The day an instant falls on in a team's zone (the week's first and last days).
    static func day(_ date: Date, in zone: String) -> String {
        date.formatted(
            Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: zone) ?? TimeZone(identifier: "UTC")!).year().month()
                .day())
    }
    /// A calendar date (YYYY-MM-DD at midnight UTC), whatever the zone.
    static func calendarDate(_ date: Date) -> String { DayText.format(date) }
    /// "2026-11-30 09:12 EST": an instant in the team's zone, named.
    static func time(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "yyyy-MM-dd HH:mm zzz"
        return formatter.string(from: date)
    }
    static func inTeamZone<T>(_ r: WeeklyReport, _ body: () -> T) -> T {
        $zone.withValue(TimeZone(identifier: r.timeZone) ?? TimeZone(identifier: "UTC")!, operation: body)
    }
    static func percent(_ fraction: Double?) -> String { fraction.map { "\(Int(($0 * 100).rounded()))%" } ?? "–" }

    static func scores(_ p: ReportPatient) -> String {
        guard let baseline = p.baseline else { return "no PHQ-9" }
        guard let latest = p.latest, latest.takenAt > baseline.takenAt else {
            return "PHQ-9 \(baseline.total) \(baseline.severity) (baseline only)"
        }
        return
            """
            PHQ-9 \(baseline.total) \(baseline.severity) → \(latest.total) \(latest.severity) \
            (\(p.change.map(Wording.change) ?? "–"))
            """
    }

    /// Every trial running (a medication and its augmentation, joined by " + "), or the current
    /// one of a snapshot kept before the report listed them all.
    static func trial(_ p: ReportPatient) -> String {
        let running = p.ongoingTrials ?? p.currentTrial.map { [$0] } ?? []
        guard !running.isEmpty else { return "none" }
        return running.map {
            "\($0.drug ?? $0.therapy ?? $0.kind), week \($0.weeks) (since \(calendarDate($0.startedOn)))"
        }.joined(separator: " + ")
    }

    static func stage(_ p: ReportPatient) -> String {
        (p.isTRD ? "TRD" : "not TRD") + ", \(p.failedTrials) failed; Thase-Rush \(p.thaseRushStage)"
            + (p.maudsleyTotal.map { "; Maudsley \($0) (\(p.maudsleyBand ?? ""))" } ?? "")
    }

    /// A patient's open work by who holds it (a role's pool or a member), with counts, the
    /// overdue first and one or two items each (`shown`): a patient with twenty open items keeps a
    /// row a meeting can read, and the counts say what is not shown.
    struct WorkGroup {
        var holder: String
        var items: [(text: String, overdue: Bool)]
        var overdue: Int { items.filter(\.overdue).count }
        var heading: String {
            "\(holder) · \(items.count) open" + (overdue > 0 ? ", \(overdue) overdue" : "")
        }
    }

    /// Items shown per holder: two, or one when three or more hold open work.
    static func shown(among holders: Int) -> Int { holders > 2 ? 1 : 2 }

    static func workGroups(_ p: ReportPatient) -> [WorkGroup] {
        var groups: [String: [(text: String, overdue: Bool)]] = [:]
        for h in p.openHandoffs {
            let holder = h.role.replacingOccurrences(of: "_", with: " ")
            groups[holder, default: []].append(
                (
                    "Handoff: \(short(h.title)), due \(day(h.dueAt))\(h.overdue ? ", overdue" : "")"
                        + (h.escalated ? ", escalated" : ""), h.overdue
                ))
        }
        for t in p.openTasks {
            let holder = t.assignee.isEmpty ? "unassigned" : t.assignee.replacingOccurrences(of: "_", with: " ")
            groups[holder, default: []].append(
                (
                    """
                    \(short(t.title)) \
                    (\(t.status)\(t.dueAt.map { ", due \(day($0))" } ?? "")\(t.overdue ? ", overdue" : ""))
                    """,
                    t.overdue
                ))
        }
        return groups.map { holder, items in
            WorkGroup(
                holder: holder,
                items: items.enumerated().sorted { a, b in
                    a.element.overdue != b.element.overdue ? a.element.overdue : a.offset < b.offset
                }.map(\.element))
        }.sorted { ($0.overdue, $0.items.count, $1.holder) > ($1.overdue, $1.items.count, $0.holder) }
    }

    /// Text cut to `limit` characters at a word's end, with an ellipsis.
    static func short(_ text: String, _ limit: Int = 70) -> String {
        guard text.count > limit else { return text }
        let kept = text.prefix(limit - 1)
        return (kept.lastIndex(of: " ").map { String(kept[..<$0]) } ?? String(kept)) + "…"
    }

    /// The groups as lines of text (Markdown, CSV): "social worker · 4 open, 1 overdue: a; b; +2 more".
    static func work(_ p: ReportPatient) -> [String] {
        let groups = workGroups(p)
        return groups.map { group in
            let shown = group.items.prefix(shown(among: groups.count)).map(\.text)
            let more = group.items.count - shown.count
            return "\(group.heading): " + (shown + (more > 0 ? ["+\(more) more"] : [])).joined(separator: "; ")
        }
    }

    static func referrals(_ p: ReportPatient) -> [String] {
        p.referrals.map { referral in
            var line =
                """
                \(referral.kind.uppercased()) to \(referral.targetClinic): \(referral.status) (since \
                \(day(referral.createdAt)))
                """
            if let status = referral.authorisation, let since = referral.authorisationSince {
                let days = referral.authorisationDays ?? 0
                line +=
                    referral.awaitingAuthorisation
                    ? """
                    ; prior authorisation \(status), waiting \(days) day\(days == 1 ? "" : "s") (since \
                    \(day(since)))
                    """
                    : "; prior authorisation \(status) \(day(since))"
            }
            return line
        }
    }

    // MARK: HTML

    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// PHQ-9 over time: the first and latest dates under the axis, the first and latest values by
    /// their points, the response line (half the baseline) and the remission line (5) labelled,
    /// an item-9 safety signal marked red.
    static func trendSVG(_ p: ReportPatient) -> String {
        let width = 204.0, height = 84.0, left = 4.0, right = 30.0, top = 10.0, bottom = 14.0
        let points = p.trend
        func y(_ total: Double) -> Double { top + (height - top - bottom) * (1 - min(27, max(0, total)) / 27) }
        func text(_ x: Double, _ y: Double, _ words: String, anchor: String = "start", cls: String? = nil) -> String {
            String(
                format: ##"<text x="%.1f" y="%.1f" text-anchor="%@"%@>%@</text>"##, x, y, anchor,
                cls.map { " class=\"\($0)\"" } ?? "", escape(words))
        }
        var svg =
            ##"""
            <svg class="trend" xmlns="http://www.w3.org/2000/svg" width="\##(Int(width))" height="\##(Int(height))" \##
            viewBox="0 0 \##(Int(width)) \##(Int(height))" role="img" aria-label="PHQ-9 trend">
            """##
        svg += ##"<rect x="0" y="0" width="\##(Int(width))" height="\##(Int(height))" fill="#fafafa" stroke="#ddd"/>"##
        let remission = y(5)
        svg += String(
            format:
                ##"""
                <line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#2e7d32" \##
                stroke-dasharray="3 2"><title>remission (PHQ-9 &lt; 5)</title></line>
                """##,
            left, width - right, remission, remission)
        svg += text(width - right + 2, remission + 3, "remit")
        if let baseline = p.baseline {
            let half = y(Double(baseline.total) / 2)
            svg += String(
                format:
                    ##"""
                    <line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#1565c0" \##
                    stroke-dasharray="6 3"><title>50%% of baseline (%d)</title></line>
                    """##,
                left, width - right, half, half, baseline.total)
            svg += text(width - right + 2, half + 3, "50%")
        }
        if let first = points.first, let last = points.last {
            let span = max(1, last.takenAt.timeIntervalSince(first.takenAt))
            let plot = width - left - right - 8
            let coordinates = points.map { point -> (Double, Double) in
                let x =
                    points.count == 1
                    ? left + plot / 2 : left + 4 + plot * point.takenAt.timeIntervalSince(first.takenAt) / span
                return (x, y(Double(point.total)))
            }
            svg +=
                ##"""
                <polyline fill="none" stroke="#333" stroke-width="1.5" \##
                points="\##(coordinates.map { String(format: "%.1f,%.1f", $0.0, $0.1) }.joined(separator: " "))"/>
                """##
            for ((x, yy), point) in zip(coordinates, points) {
                if point.safetySignal == true {
                    svg += String(
                        format:
                            ##"""
                            <circle cx="%.1f" cy="%.1f" r="3.5" fill="#c62828"><title>%d on %@: item 9 above \##
                            0</title></circle>
                            """##,
                        x, yy, point.total, day(point.takenAt))
                } else {
                    svg += String(
                        format: ##"<circle cx="%.1f" cy="%.1f" r="2" fill="#333"><title>%d on %@</title></circle>"##, x,
                        yy, point.total, day(point.takenAt))
                }
            }
            let (firstX, firstY) = coordinates[0]
            svg += text(firstX, max(top - 1, firstY - 4), String(first.total), anchor: "start", cls: "value")
            if points.count > 1, let (lastX, lastY) = coordinates.last {
                svg += text(lastX, max(top - 1, lastY - 4), String(last.total), anchor: "end", cls: "value")
            }
            svg += text(left, height - 3, shortDay(first.takenAt))
            if points.count > 1 { svg += text(width - right, height - 3, shortDay(last.takenAt), anchor: "end") }
        } else {
            svg += ##"<text x="8" y="40">no PHQ-9 yet</text>"##
        }
        return svg + "</svg>"
    }

    /// "3 Nov", for a chart's axis.
    static func shortDay(_ date: Date) -> String {
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let local = date.addingTimeInterval(Double(zone.secondsFromGMT(for: date)))
        let (_, month, dayOfMonth) = Timestamp.civil(days: Int((local.timeIntervalSince1970 / 86_400).rounded(.down)))
        return "\(dayOfMonth) \(months[month - 1])"
    }

    static func html(_ r: WeeklyReport) -> String { inTeamZone(r) { htmlPage(r) } }

    private static func htmlPage(_ r: WeeklyReport) -> String {
        let c = r.caseload
        var out = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(r.teamName)): weekly case review \(r.isoWeek)</title>
            <style>
            @page { size: A4 landscape; margin: 10mm; }
            * { box-sizing: border-box; }
            body { font: 13px/1.4 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #222; \
            margin: 16px; }
            h1 { font-size: 20px; margin: 0 0 4px; }
            h2 { font-size: 15px; margin: 18px 0 6px; border-bottom: 2px solid #444; }
            .meta { color: #555; margin-bottom: 12px; }
            .stats { display: flex; flex-wrap: wrap; gap: 8px; margin: 8px 0 12px; }
            .stat { border: 1px solid #ccc; border-radius: 4px; padding: 6px 10px; min-width: 120px; }
            .stat b { display: block; font-size: 18px; }
            table { border-collapse: collapse; width: 100%; table-layout: fixed; }
            td { overflow-wrap: anywhere; }
            th, td { border-bottom: 1px solid #ddd; padding: 5px 6px; text-align: left; vertical-align: top; }
            th { background: #f0f0f0; font-size: 12px; }
            tr { break-inside: avoid; page-break-inside: avoid; }
            .reason { display: inline-block; border-radius: 3px; padding: 0 5px; margin: 1px 0; font-size: 12px; \
            background: #eee; }
            .r1 { background: #c62828; color: #fff; }
            .r2 { background: #6a1b9a; color: #fff; }
            .r3 { background: #ef6c00; color: #fff; }
            .r4 { background: #1565c0; color: #fff; }
            .r5 { background: #f9a825; }
            .r6 { background: #8d6e63; color: #fff; }
            .r7 { background: #2e7d32; color: #fff; }
            .overdue { color: #c62828; font-weight: 600; }
            .small { font-size: 12px; color: #444; }
            ul { margin: 0; padding-left: 16px; }
            .legend { font-size: 11px; color: #555; }
            .holder { margin-bottom: 3px; font-size: 12px; line-height: 1.3; }
            .holder b { font-size: 12px; }
            .more { font-size: 11px; color: #555; padding-left: 16px; }
            .trend text { font: 9px sans-serif; fill: #555; } .trend .value { fill: #222; font-weight: 600; }
            @media print { body { margin: 0; } .stat { padding: 4px 8px; } }
            </style></head><body>
            <h1>\(escape(r.teamName)): weekly case review, \(r.isoWeek)</h1>
            <div class="meta">Week of \(day(r.weekStart, in: r.timeZone)) to \
            \(day(r.weekEnd.addingTimeInterval(-1), in: r.timeZone)) (\(escape(r.timeZone))); data as of \
            \(escape(time(r.asOf))). Patients who need a decision come first.</div>
            <div class="stats">
            <div class="stat"><b>\(c.size)</b>caseload</div>
            <div class="stat"><b>\(percent(c.responseRate))</b>response (\(c.responders) of \(c.measured))</div>
            <div class="stat"><b>\(percent(c.remissionRate))</b>remission (\(c.remitters) of \(c.measured))</div>
            <div class="stat"><b>\(c.contactsThisWeek)</b>contacts this week</div>
            <div class="stat"><b>\(c.newPatients)</b>new patients</div>
            <div class="stat"><b>\(c.handoffsProduced)</b>handoffs made; \(c.handoffsAcknowledgedOnTime) acknowledged \
            on time, \(c.handoffsAcknowledgedLate) late, \(c.handoffsUnacknowledged) not yet</div>
            <div class="stat"><b>\(c.listed)</b>to discuss</div>
            <div class="stat"><b>\(c.awaitingAuthorisation)</b>awaiting prior \
            authorisation\(c.longestAuthorisationWaitDays.map { "; the longest \($0) days" } ?? "")</div>
            </div>
            <div class="legend">Trend: PHQ-9 (0–27) with the first and latest values and dates; the blue dashed line \
            (50%) is half the baseline (response), the green one (remit) is 5 (remission); a red point is an item-9 \
            safety signal. Open work is grouped by who holds it, overdue first, two items each.</div>

            """
        if r.patients.isEmpty {
            out += "<p>Nobody needs a decision this week.</p>\n"
        }
        var section = 0
        for p in r.patients {
            if p.rank != section {
                if section != 0 { out += "</tbody></table>\n" }
                section = p.rank
                out +=
                    """
                    <h2>\(escape(p.reasons[0].kind.section))</h2>\n<table><colgroup><col style=\"width:11%\"><col \
                    style=\"width:15%\"><col style=\"width:9%\">
                    """
                        + """
                        <col style=\"width:218px\"><col style=\"width:12%\"><col><col \
                        style=\"width:10%\"></colgroup><thead><tr><th>Patient</th><th>Why \
                        listed</th><th>Scores</th><th>Trend</th>
                        """
                    + "<th>Treatment</th><th>Open work</th><th>Referrals</th></tr></thead><tbody>\n"
            }
            let reasons = p.reasons.map { ##"<span class="reason r\##($0.kind.rank)">\##(escape($0.text))</span>"## }
                .joined(separator: "<br>")
            let groups = workGroups(p)
            let each = shown(among: groups.count)
            let work = groups.map { group in
                let shown = group.items.prefix(each).map { item in
                    item.overdue
                        ? ##"<li class="overdue">\##(escape(item.text))</li>"## : "<li>\(escape(item.text))</li>"
                }.joined()
                let more = group.items.count - min(group.items.count, each)
                return ##"<div class="holder"><b>\##(escape(group.heading))</b><ul>\##(shown)</ul>"##
                    + (more > 0 ? ##"<span class="more">+\##(more) more</span>"## : "") + "</div>"
            }.joined()
            let referralItems = referrals(p).map { "<li>\(escape($0))</li>" }.joined()
            out +=
                """
                <tr><td><b>\(escape(p.displayName))</b><br><span class=\"small\">MRN \(escape(p.mrn)) · week \
                \(p.weeksInTreatment) · \(escape(p.status))</span></td>
                """
                + "<td>\(reasons)</td><td>\(escape(scores(p)))</td><td>\(trendSVG(p))</td>"
                + "<td>\(escape(trial(p)))<br><span class=\"small\">\(escape(stage(p)))</span></td>"
                + "<td>\(work.isEmpty ? "–" : work)</td>"
                + "<td>\(referralItems.isEmpty ? "–" : "<ul>\(referralItems)</ul>")</td></tr>\n"
        }
        if section != 0 { out += "</tbody></table>\n" }
        out +=
            """
            <p class=\"small\">Generated \(escape(time(r.generatedAt))) by CareRelay. Psychotherapy notes are never \
            part of this report.</p>\n</body></html>\n
            """
        return out
    }

    // MARK: Markdown

    static func markdownCell(_ text: String) -> String {
        text.replacingOccurrences(of: "\n", with: " ")
    }

    /// Text from the records (names, reasons, clinics) as Markdown shows it and nothing more:
    /// HTML is escaped (a renderer would otherwise run it) and Markdown's own punctuation is
    /// backslashed, so a name can neither add a link nor break the table.
    static func markdownText(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "\\", "`", "*", "_", "[", "]", "|", "#", "!": out += "\\" + String(character)
            case "\n", "\r": out += " "
            default: out.append(character)
            }
        }
        return escape(out)
    }

    static func sparkline(_ p: ReportPatient) -> String {
        let bars = Array("▁▂▃▄▅▆▇█")
        return String(p.trend.map { bars[min(7, $0.total * 7 / 27)] })
    }

    /// The trend in words beside its sparkline: "▆▅▃ 19 on 3 Nov → 9 on 24 Nov; item 9 above 0 on 10 Nov".
    static func trendText(_ p: ReportPatient) -> String {
        guard let first = p.trend.first, let last = p.trend.last else { return "no PHQ-9 yet" }
        var text = sparkline(p) + " \(first.total) on \(shortDay(first.takenAt))"
        if p.trend.count > 1 { text += " → \(last.total) on \(shortDay(last.takenAt))" }
        let signals = p.trend.filter { $0.safetySignal == true }.map { shortDay($0.takenAt) }
        if !signals.isEmpty { text += "; item 9 above 0 on \(signals.joined(separator: ", "))" }
        return text
    }

    static func markdown(_ r: WeeklyReport) -> String { inTeamZone(r) { markdownPage(r) } }

    private static func markdownPage(_ r: WeeklyReport) -> String {
        let c = r.caseload
        var lines = [
            "# \(markdownText(r.teamName)): weekly case review, \(r.isoWeek)", "",
            """
            Week of \(day(r.weekStart, in: r.timeZone)) to \(day(r.weekEnd.addingTimeInterval(-1), in: r.timeZone)) \
            (\(r.timeZone)); data as of \(time(r.asOf)).
            """,
            "",
            """
            **Caseload** \(c.size) · **response** \(percent(c.responseRate)) (\(c.responders) of \(c.measured)) · \
            **remission** \(percent(c.remissionRate)) (\(c.remitters) of \(c.measured))
            """
                + """
                 · **contacts this week** \(c.contactsThisWeek) · **new patients** \(c.newPatients) · **handoffs \
                made** \(c.handoffsProduced)
                """
                    + """
                     (\(c.handoffsAcknowledgedOnTime) acknowledged on time, \(c.handoffsAcknowledgedLate) late, \
                    \(c.handoffsUnacknowledged) not yet) · **to discuss** \(c.listed)
                    """
                + " · **awaiting prior authorisation** \(c.awaitingAuthorisation)"
                + (c.longestAuthorisationWaitDays.map { " (the longest \($0) days)" } ?? ""),
        ]
        if r.patients.isEmpty { lines += ["", "Nobody needs a decision this week."] }
        var section = 0
        for p in r.patients {
            if p.rank != section {
                section = p.rank
                lines += [
                    "", "## \(p.reasons[0].kind.section)", "",
                    "| Patient | Why listed | Scores | Trend | Treatment | Open work | Referrals |",
                    "|---|---|---|---|---|---|---|",
                ]
            }
            let name = "**\(markdownText(p.displayName))** (MRN \(markdownText(p.mrn)), week \(p.weeksInTreatment))"
            let work = work(p).joined(separator: " · ")
            let referrals = referrals(p).joined(separator: "; ")
            let recorded: [String] = [
                p.reasons.map(\.text).joined(separator: "; "), scores(p), trendText(p), "\(trial(p)); \(stage(p))",
                work.isEmpty ? "–" : work, referrals.isEmpty ? "–" : referrals,
            ]
            let cells: [String] = [name] + recorded.map(markdownText)
            lines.append("| " + cells.map(markdownCell).joined(separator: " | ") + " |")
        }
        lines += ["", "_Psychotherapy notes are never part of this report._"]
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: CSV

    static func csvCell(_ text: String) -> String {
        // A cell a spreadsheet would run as a formula is made text.
        var value = text
        if let first = value.first, "=+-@\t\r".contains(first) { value = "'" + value }
        if value.contains(where: { ",\"\n\r".contains($0) }) {
            value = "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return value
    }

    static func csv(_ r: WeeklyReport) -> String { inTeamZone(r) { csvRows(r) } }

    private static func csvRows(_ r: WeeklyReport) -> String {
        let header = [
            "rank", "first_reason", "reasons", "patient_id", "mrn", "name", "status", "weeks_in_treatment",
            "baseline_phq9", "latest_phq9",
            "improvement_percent", "trend_phq9", "current_trial", "trd", "failed_trials", "thase_rush_stage",
            "maudsley_total",
            "open_handoffs", "open_tasks", "overdue", "referrals", "last_contact",
        ]
        var lines = [header.joined(separator: ",")]
        for p in r.patients {
            let overdue = p.openHandoffs.filter(\.overdue).count + p.openTasks.filter(\.overdue).count
            let cells: [String] = [
                String(p.rank), p.reasons[0].kind.rawValue, p.reasons.map(\.text).joined(separator: "; "),
                p.id.description, p.mrn,
                p.displayName, p.status, String(p.weeksInTreatment), p.baseline.map { String($0.total) } ?? "",
                p.latest.map { String($0.total) } ?? "",
                p.change.map { String(Int(($0 * 100).rounded())) } ?? "",
                p.trend.map { String($0.total) }.joined(separator: " "),
                p.currentTrial == nil ? "" : trial(p), p.isTRD ? "yes" : "no", String(p.failedTrials), p.thaseRushStage,
                p.maudsleyTotal.map(String.init) ?? "", String(p.openHandoffs.count), String(p.openTasks.count),
                String(overdue),
                p.referrals.map { "\($0.kind):\($0.status)" }.joined(separator: " "), p.lastContact.map(day) ?? "",
            ]
            lines.append(cells.map(csvCell).joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}

import CoreFormats
import CareStore
import Foundation

/// The weekly report's JSON, written by hand: for 5,000 patients Foundation's JSONEncoder took
/// most of the request's time. The output is the same document as encoding `WeeklyReport`
/// with `Wire.plainEncoder` (sorted keys, absent optionals left out); ReportTests checks that.
enum ReportJSON {
    static func encode(_ report: WeeklyReport) -> [UInt8] {
        var writer = JSONWriter(capacity: 2048 + report.patients.count * 1500)
        writer.report(report)
        return writer.bytes
    }
}

extension JSONWriter {
    // MARK: The report

    mutating func report(_ r: WeeklyReport) {
        object { o in
            o.member("as_of") { $0.date(r.asOf) }
            o.member("caseload") { $0.caseload(r.caseload) }
            o.member("generated_at") { $0.date(r.generatedAt) }
            o.member("iso_week") { $0.string(r.isoWeek) }
            o.member("patients") { $0.array(r.patients) { $0.patient($1) } }
            o.member("team_id") { $0.string(r.teamId.description) }
            o.member("team_name") { $0.string(r.teamName) }
            o.member("time_zone") { $0.string(r.timeZone) }
            o.member("week_end") { $0.date(r.weekEnd) }
            o.member("week_start") { $0.date(r.weekStart) }
        }
    }

    mutating func caseload(_ c: ReportCaseload) {
        object { o in
            o.member("awaiting_authorisation") { $0.int(c.awaitingAuthorisation) }
            o.member("contacts_this_week") { $0.int(c.contactsThisWeek) }
            o.member("handoffs_acknowledged_late") { $0.int(c.handoffsAcknowledgedLate) }
            o.member("handoffs_acknowledged_on_time") { $0.int(c.handoffsAcknowledgedOnTime) }
            o.member("handoffs_produced") { $0.int(c.handoffsProduced) }
            o.member("handoffs_unacknowledged") { $0.int(c.handoffsUnacknowledged) }
            o.member("listed") { $0.int(c.listed) }
            o.optional("longest_authorisation_wait_days", c.longestAuthorisationWaitDays) { $0.int($1) }
            o.member("measured") { $0.int(c.measured) }
            o.member("new_patients") { $0.int(c.newPatients) }
            o.optional("remission_rate", c.remissionRate) { $0.double($1) }
            o.member("remitters") { $0.int(c.remitters) }
            o.member("responders") { $0.int(c.responders) }
            o.optional("response_rate", c.responseRate) { $0.double($1) }
            o.member("size") { $0.int(c.size) }
        }
    }

    mutating func score(_ s: ReportScore) {
        object { o in
            o.optional("safety_signal", s.safetySignal) { $0.bool($1) }
            o.member("severity") { $0.string(s.severity) }
            o.member("taken_at") { $0.date(s.takenAt) }
            o.member("total") { $0.int(s.total) }
        }
    }

    mutating func trial(_ t: ReportTrial) {
        object { o in
            o.optional("drug", t.drug) { $0.string($1) }
            o.member("kind") { $0.string(t.kind) }
            o.member("started_on") { $0.date(t.startedOn) }
            o.optional("therapy", t.therapy) { $0.string($1) }
            o.member("weeks") { $0.int(t.weeks) }
        }
    }

    mutating func patient(_ p: ReportPatient) {
        object { o in
            o.optional("baseline", p.baseline) { $0.score($1) }
            o.optional("change", p.change) { $0.double($1) }
            o.optional("current_trial", p.currentTrial) { $0.trial($1) }
            o.member("display_name") { $0.string(p.displayName) }
            o.member("enrolled_on") { $0.date(p.enrolledOn) }
            o.member("failed_trials") { $0.int(p.failedTrials) }
            o.member("id") { $0.string(p.id.description) }
            o.member("is_trd") { $0.bool(p.isTRD) }
            o.optional("last_contact", p.lastContact) { $0.date($1) }
            o.optional("latest", p.latest) { $0.score($1) }
            o.optional("maudsley_band", p.maudsleyBand) { $0.string($1) }
            o.optional("maudsley_total", p.maudsleyTotal) { $0.int($1) }
            o.member("mrn") { $0.string(p.mrn) }
            o.optional("ongoing_trials", p.ongoingTrials) { $0.array($1) { w, t in w.trial(t) } }
            o.member("open_handoffs") {
                $0.array(p.openHandoffs) { w, h in
                    w.object { o in
                        o.member("due_at") { $0.date(h.dueAt) }
                        o.member("escalated") { $0.bool(h.escalated) }
                        o.member("overdue") { $0.bool(h.overdue) }
                        o.member("reason") { $0.string(h.reason) }
                        o.member("role") { $0.string(h.role) }
                        o.member("title") { $0.string(h.title) }
                    }
                }
            }
            o.member("open_tasks") {
                $0.array(p.openTasks) { w, t in
                    w.object { o in
                        o.member("assignee") { $0.string(t.assignee) }
                        o.optional("due_at", t.dueAt) { $0.date($1) }
                        o.member("overdue") { $0.bool(t.overdue) }
                        o.member("priority") { $0.string(t.priority) }
                        o.member("status") { $0.string(t.status) }
                        o.member("title") { $0.string(t.title) }
                    }
                }
            }
            o.member("rank") { $0.int(p.rank) }
            o.member("reasons") {
                $0.array(p.reasons) { w, r in
                    w.object { o in
                        o.member("kind") { $0.string(r.kind.rawValue) }
                        o.member("text") { $0.string(r.text) }
                    }
                }
            }
            o.member("referrals") {
                $0.array(p.referrals) { w, r in
                    w.object { o in
                        o.optional("authorisation", r.authorisation) { $0.string($1) }
                        o.optional("authorisation_days", r.authorisationDays) { $0.int($1) }
                        o.optional("authorisation_since", r.authorisationSince) { $0.date($1) }
                        o.member("created_at") { $0.date(r.createdAt) }
                        o.member("kind") { $0.string(r.kind) }
                        o.member("status") { $0.string(r.status) }
                        o.member("target_clinic") { $0.string(r.targetClinic) }
                    }
                }
            }
            o.member("status") { $0.string(p.status) }
            o.member("thase_rush_stage") { $0.string(p.thaseRushStage) }
            o.member("trend") { $0.array(p.trend) { $0.score($1) } }
            o.member("weeks_in_treatment") { $0.int(p.weeksInTreatment) }
        }
    }
}

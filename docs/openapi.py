"""The OpenAPI 3.1 document of the HTTP API: `python3 docs/openapi.py > docs/openapi.json`.

docs/openapi.json is what the server compiles in and serves at /openapi.json; this script is
where it is written. deploy/test checks the two agree, OpenAPITests holds the document to the
router, and schemathesis holds the server to the document.
"""
import json
def ref(n): return {"$ref": f"#/components/schemas/{n}"}
S = lambda **k: dict(k)
uuid = {"type": "string", "format": "uuid"}
ts = {"type": "string", "format": "date-time"}
date = {"type": "string", "format": "date"}
# In requests: years 1900 to 2999 (a clinical record has no use for others).
req_date = {"type": "string", "format": "date", "pattern": "^(19[0-9]{2}|2[0-9]{3})-[0-9]{2}-[0-9]{2}$"}
# A clinical date: the team's today at the latest, read on the team's calendar (docs/time-zones.md).
team_day = dict(req_date, description="A date on the team's calendar: today in the team's time_zone at the latest (a later one is 422).")
req_ts = {"type": "string", "format": "date-time", "pattern": "^(19[0-9]{2}|2[0-9]{3})-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$"}
# Text that must not be blank: at least one character outside BLANK (the server's own list of
# whitespace), and no NUL anywhere (PostgreSQL text cannot hold it).
BLANK = "\\t\\n\\x0b\\x0c\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
text = lambda maxlen=None: ({"type": "string", "minLength": 1, "pattern": "^[^\\x00]*[^\\x00" + BLANK + "][^\\x00]*$", **({"maxLength": maxlen} if maxlen else {})})
free = lambda maxlen: {"type": "string", "maxLength": maxlen, "pattern": "^[^\\x00]*$"}
# `confirm_high_dose: true` needs a reason that is not blank (the API says 422 otherwise).
HIGH_DOSE_REASON = {"if": {"properties": {"confirm_high_dose": {"const": True}}, "required": ["confirm_high_dose"]},
                    "then": {"required": ["high_dose_reason"], "properties": {"high_dose_reason": text(1000)}}}
def obj(props, required=None, desc=None):
    o = {"type": "object", "properties": props}
    if required is None: required = list(props.keys())
    if required: o["required"] = required
    if desc: o["description"] = desc
    return o
def page(item): return obj({"items": {"type": "array", "items": ref(item)}, "next_cursor": {"type": "string", "description": "Pass back as `cursor` for the next page; absent on the last page. Opaque."}}, ["items"])
DRUGS = sorted(["citalopram", "escitalopram", "fluoxetine", "fluvoxamine", "paroxetine", "sertraline", "venlafaxine", "desvenlafaxine", "duloxetine",
    "levomilnacipran", "milnacipran", "bupropion", "mirtazapine", "vortioxetine", "vilazodone", "trazodone", "agomelatine", "amitriptyline",
    "clomipramine", "desipramine", "doxepin", "imipramine", "nortriptyline", "isocarboxazid", "phenelzine", "tranylcypromine",
    "selegiline-transdermal", "lithium", "aripiprazole", "brexpiprazole", "quetiapine"])
ROLES = ["psychiatrist", "psychologist", "social_worker", "care_manager", "admin", "integration", "compliance"]
POOL_ROLES = ["psychiatrist", "psychologist", "social_worker", "care_manager"]
EVENT_TYPES = ["team.created", "team.time_zone_changed", "member.created", "patient.enrolled", "patient.status_changed", "patient.trd_reached", "care_plan.updated",
    "task.created", "task.assigned", "task.claimed", "task.started", "task.completed", "task.cancelled", "note.added", "note.amended",
    "measurement.recorded", "trial.started", "trial.dose_changed", "trial.outcome_recorded", "trial.failed", "referral.made",
    "referral.status_changed", "handoff.created", "handoff.acknowledged", "handoff.escalated",
    "patient.trd_withdrawn", "task.held", "task.resumed", "task.failed", "note.entered_in_error", "measurement.entered_in_error",
    "trial.outcome_entered_in_error", "trial.entered_in_error", "referral.entered_in_error", "handoff.reassigned", "handoff.superseded",
    "handoff.cause_added", "prior_auth.submitted", "prior_auth.approved", "prior_auth.denied", "member.removed", "member.roles_changed", "task.released"]
SEVERITIES = ["minimal", "normal", "mild", "moderate", "moderately severe", "severe"]
TASK_STATUS = ["requested", "accepted", "in-progress", "on-hold", "completed", "cancelled", "failed"]
schemas = {
 "Problem": obj({"type": {"type": "string", "format": "uri", "description": "Stable per kind of error: https://carerelay.example/problems/<kind>"},
                 "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"}, "request_id": {"type": "string"},
                 "field": {"type": "string", "description": "The request field at fault, when one is (e.g. `started_on`)."},
                 "accepted": {"type": "array", "items": {"type": "string"},
                              "description": "What would be accepted instead: the allowed values or next statuses, a range, or close matches (an unknown drug)."},
                 "existing": {"type": "string", "description": "The path of the open record this one conflicts with (a second open referral of the same kind)."}},
                ["type", "title", "status", "detail"], "RFC 9457 problem details."),
 "EnteredInError": obj({"at": ts, "by": uuid, "reason": {"type": "string"}}, ["at", "reason"],
                       "The record was marked entered in error: it stays for history and audit, and rules, summaries and reports leave it out."),
 "RuleInput": obj({"name": {"type": "string"}, "value": {"type": "string"}}),
 "Me": obj({"id": uuid, "display_name": {"type": "string"}, "is_service_account": {"type": "boolean"},
            "scopes": {"type": "array", "items": {"type": "string"}},
            "teams": {"type": "array", "items": ref("Team")}}),
 "Team": obj({"id": uuid, "name": {"type": "string"}, "roles": {"type": "array", "items": {"type": "string", "enum": ROLES}},
               "time_zone": {"type": "string", "description": "The team's IANA time zone (its weeks, days and date-only inputs: docs/time-zones.md)."}},
             ["id", "name", "roles"]),
 "TeamPage": page("Team"),
 "ResolvedRecord": obj({"id": uuid, "kind": {"type": "string", "enum": ["task", "trial", "referral", "note", "measurement", "snapshot"]},
                        "patient_id": uuid, "label": {"type": "string", "description": "A few words to tell candidates apart."}},
                       ["id", "kind", "label"], "A record whose id starts with the characters asked for."),
 "InboxEntry": obj({"event_id": {"type": "string"}, "kind": {"type": "string", "enum": ["safety", "handoff", "score", "trial", "resistance", "referral", "note"]},
                    "patient_id": uuid, "patient_name": {"type": "string"}, "actor_name": {"type": "string", "description": "Who did it; absent for what the server did."},
                    "occurred_at": ts, "what": {"type": "string", "description": "What happened, in words."},
                    "safety_signal": {"type": "boolean", "description": "About a safety signal: a score with one (kind safety), or a handoff one made (the urgent safety assessment). These come first."}},
                   ["event_id", "kind", "patient_id", "patient_name", "occurred_at", "what", "safety_signal"], "Something that changed on one of the caller's patients."),
 "InboxPage": obj({"items": {"type": "array", "items": ref("InboxEntry")}}, ["items"]),
 "ResolvedPage": obj({"items": {"type": "array", "items": ref("ResolvedRecord")}}, ["items"]),
 "Member": obj({"id": uuid, "display_name": {"type": "string"}, "email": {"type": "string"}, "is_service_account": {"type": "boolean"},
                "roles": {"type": "array", "items": {"type": "string", "enum": ROLES}}}, ["id", "display_name", "is_service_account", "roles"]),
 "MemberPage": page("Member"),
 "MemberRoles": obj({"roles": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": [r for r in ROLES if r != "integration"]}}}, ["roles"]),
 "RemovedMember": obj({"member_id": uuid, "team_id": uuid, "released_task_ids": {"type": "array", "items": uuid}},
                      ["member_id", "team_id", "released_task_ids"]),
 "CreatedMember": obj({"id": uuid, "roles": {"type": "array", "items": {"type": "string"}}, "token_id": uuid,
                       "token": {"type": "string", "description": "Shown once; stored only as its SHA-256."}, "token_expires_at": ts},
                      ["id", "roles", "token_id", "token"]),
 "Patient": obj({"id": uuid, "team_id": uuid, "mrn": {"type": "string"}, "display_name": {"type": "string"},
                 "status": {"type": "string", "enum": ["enrolled", "active", "relapse-prevention", "discharged"]}, "enrolled_on": date,
                 "latest_phq9": obj({"total": {"type": "integer"}, "severity": {"type": "string", "enum": SEVERITIES}, "taken_at": ts,
                                     "safety_signal": {"type": "boolean", "description": "Item 9 (thoughts of self-harm) above 0."}},
                                    ["total", "severity", "taken_at", "safety_signal"],
                                    desc="The latest PHQ-9 not entered in error; absent when none is recorded."),
                 "is_trd": {"type": "boolean", "description": "Meets treatment-resistant depression now."},
                 "open_items": {"type": "integer", "description": "Open tasks, handoffs' included."}},
                ["id", "team_id", "mrn", "display_name", "status", "enrolled_on"]),
 "PatientPage": page("Patient"),
 "Task": obj({"id": uuid, "patient_id": uuid, "title": {"type": "string"}, "status": {"type": "string", "enum": TASK_STATUS},
              "priority": {"type": "string", "enum": ["routine", "urgent", "asap", "stat"]}, "owner_id": uuid,
              "pool_role": {"type": "string", "enum": POOL_ROLES}, "due_at": ts, "not_before": ts,
              "handoff_id": {**uuid, "description": "Set when the task is a handoff: the handoff has the same id (one id for one piece of work)."},
              "status_reason": {"type": "string", "description": "Why it was cancelled or failed; `superseded: ...` when the cause of its handoff was withdrawn."},
              "evidence": {"type": "string", "description": "What was done, as its completer wrote it (`note` when completing; a contraindication screen's answers)."},
              "causes": {"type": "array", "description": "A handoff's causes, oldest first (GET /v1/tasks/{id} only): the event that made it and each that joined it.",
                         "items": obj({"event_id": {"type": "integer"}, "summary": {"type": "string"}, "added_at": ts, "withdrawn_at": ts},
                                      ["event_id", "summary", "added_at"])},
              "step": {"type": "string", "description": "A handoff's playbook step, such as `trial-failed.next-step` (GET /v1/tasks/{id} only; the same as the handoff's `step`)."}},
             ["id", "patient_id", "title", "status", "priority"],
             "A handoff's task says how many causes it has in its title when more than one (one-per-patient steps)."),
 "TaskPage": page("Task"),
 "Note": obj({"id": uuid, "author_id": uuid, "author_name": {"type": "string"}, "kind": {"type": "string", "enum": ["progress", "psychotherapy", "social", "case-review"]},
              "body": {"type": "string"}, "amends_id": uuid, "created_at": ts,
              "is_amended": {"type": "boolean", "description": "A later note amends this one (see `amended_by`)."},
              "amended_by": {"type": "array", "items": uuid}, "entered_in_error": ref("EnteredInError")},
             ["id", "author_id", "author_name", "kind", "body", "created_at", "is_amended", "amended_by"],
             "Psychotherapy notes are returned to their author only."),
 "NotePage": page("Note"),
 "Measurement": obj({"id": uuid, "instrument": {"type": "string", "enum": ["PHQ-9", "MADRS", "GAD-7"]}, "total": {"type": "integer"},
                     "items": {"type": "array", "items": {"type": "integer"}}, "safety_signal": {"type": "boolean"}, "taken_at": ts, "recorded_by": uuid,
                     "severity": {"type": "string", "enum": SEVERITIES, "description": "The band by its usual name (PHQ-9: minimal, mild, moderate, moderately severe, severe; MADRS: normal to severe)."},
                     "entered_in_error": ref("EnteredInError")},
                    ["id", "instrument", "total", "safety_signal", "taken_at", "severity"]),
 "MeasurementPage": page("Measurement"),
 "Adequacy": obj({"is_adequate": {"type": "boolean"}, "weeks_at_adequate_dose": {"type": "number"}, "drug_class": {"type": "string"},
                  "reason": {"type": "string"}, "inputs": {"type": "array", "items": ref("RuleInput")}}, ["is_adequate", "weeks_at_adequate_dose", "reason", "inputs"]),
 "Trial": obj({"id": uuid, "kind": {"type": "string", "enum": ["medication", "augmentation", "psychotherapy", "neuromodulation"]},
               "drug": {"type": "string"}, "therapy": {"type": "string", "description": "A psychotherapy's name, where a drug would be."},
               "sessions": {"type": "integer"}, "started_on": date, "stopped_on": date,
               "outcome": {"type": "string", "enum": ["response", "partial-response", "non-response", "intolerance", "stopped-early"]},
               "stop_reason": {"type": "string"}, "is_failed": {"type": "boolean"}, "adequacy": ref("Adequacy"),
               "entered_in_error": ref("EnteredInError"),
               "dose_steps": {"type": "array", "description": "A medication or augmentation trial's daily doses, each from its day on, oldest first.",
                              "items": obj({"from": date, "daily_dose_mg": {"type": "number"}}, ["from", "daily_dose_mg"])},
               "withdrawn_outcomes": {"type": "array", "description": "Outcomes recorded and then marked entered in error, as they were recorded.",
                                      "items": obj({"outcome": {"type": "string"}, "stopped_on": {"type": "string"}, "reason": {"type": "string"},
                                                    "withdrawn_at": ts, "withdrawn_by": uuid}, ["outcome", "reason", "withdrawn_at"])}},
              ["id", "kind", "started_on", "is_failed", "withdrawn_outcomes"]),
 "TrialPage": page("Trial"),
 "TrialOutcomeResult": obj({"trial_id": uuid, "outcome": {"type": "string"}, "is_failed": {"type": "boolean"}, "trd_reached": {"type": "boolean"},
                            "adequacy": ref("Adequacy"), "handoff_ids": {"type": "array", "items": uuid, "description": "Handoffs made."},
                            "joined_handoff_ids": {"type": "array", "items": uuid, "description": "Open one-per-patient handoffs this failure joined as one more cause."}}),
 "Referral": obj({"id": uuid, "kind": {"type": "string", "enum": ["tms", "ect", "esketamine", "other"]},
                  "status": {"type": "string", "enum": ["requested", "accepted", "scheduled", "in-course", "completed", "declined", "cancelled"]},
                  "target_clinic": {"type": "string"}, "created_at": ts,
                  "reason": {"type": "string", "description": "Why a second open referral of the same kind was made."},
                  "status_reason": {"type": "string"}, "entered_in_error": ref("EnteredInError")},
                 ["id", "kind", "status", "target_clinic", "created_at"]),
 "ReferralPage": page("Referral"),
 "Handoff": obj({"id": uuid, "patient_id": uuid, "role": {"type": "string", "enum": POOL_ROLES}, "reason": {"type": "string"}, "step": {"type": "string"},
                 "due_at": ts, "task_id": {**uuid, "description": "Its task (the same id for handoffs made since version 11 of the schema)."},
                 "acknowledged_by": uuid, "acknowledged_at": ts, "escalated": {"type": "boolean"}, "created_at": ts,
                 "status": {"type": "string", "enum": ["open", "acknowledged", "superseded", "completed", "cancelled", "failed"]},
                 "assigned_member_id": {**uuid, "description": "Given to this member by a reassignment, rather than to the role's pool."},
                 "superseded_reason": {"type": "string", "description": "Why its cause was withdrawn."}},
                ["id", "patient_id", "role", "reason", "step", "due_at", "task_id", "escalated", "created_at", "status"]),
 "HandoffPage": page("Handoff"),
 "OpenHandoff": obj({"id": uuid, "role": {"type": "string", "enum": POOL_ROLES}, "reason": {"type": "string"}, "due_at": ts, "task_id": uuid, "escalated": {"type": "boolean"}}),
 "CarePlan": obj({"patient_id": uuid, "version": {"type": "integer"}, "goals": {"type": "array", "items": {"type": "string"}},
                  "problems": {"type": "array", "items": {"type": "string"}}, "treatment_line": {"type": "string"}, "author_id": uuid, "updated_at": ts},
                 ["patient_id", "version", "goals", "problems", "treatment_line", "updated_at"]),
 "Event": obj({"id": {"type": "integer"}, "type": {"type": "string"}, "team_id": uuid, "patient_id": uuid, "actor_id": uuid, "occurred_at": ts,
               "payload": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Ids and kinds; never a note's text."}},
              ["id", "type", "occurred_at", "payload"]),
 "EventPage": page("Event"),
 "AuditEntry": obj({"id": {"type": "integer"}, "at": ts, "member_id": uuid, "action": {"type": "string"}, "patient_id": uuid, "resource": {"type": "string"},
                    "outcome": {"type": "string", "enum": ["allowed", "denied", "failed"]}, "request_id": {"type": "string"}, "detail": {"type": "string"}},
                   ["id", "at", "action", "resource", "outcome"]),
 "AuditPage": page("AuditEntry"),
 "PatientSummary": obj({
    "id": uuid, "team_id": uuid, "mrn": {"type": "string"}, "display_name": {"type": "string"},
    "status": {"type": "string", "enum": ["enrolled", "active", "relapse-prevention", "discharged"]}, "enrolled_on": date,
    "care_plan": obj({"version": {"type": "integer"}, "goals": {"type": "array", "items": {"type": "string"}},
                      "problems": {"type": "array", "items": {"type": "string"}}, "treatment_line": {"type": "string"}}),
    "scores": {"type": "array", "items": obj({"id": uuid, "instrument": {"type": "string"}, "total": {"type": "integer"},
                                              "severity": {"type": "string", "enum": SEVERITIES}, "taken_at": ts, "safety_signal": {"type": "boolean"}})},
    "response": obj({"category": {"type": "string", "enum": ["remission", "response", "partial-response", "non-response"]}, "improvement": {"type": "number"},
                     "is_response": {"type": "boolean"}, "is_remission": {"type": "boolean"}, "inputs": {"type": "array", "items": ref("RuleInput")}}),
    "trials": {"type": "array", "items": ref("Trial")},
    "trd": obj({"is_trd": {"type": "boolean"}, "failed_trials": {"type": "integer"}, "distinct_classes": {"type": "integer"}, "inputs": {"type": "array", "items": ref("RuleInput")}}),
    "thase_rush": obj({"stage": {"type": "string", "enum": ["none", "I", "II", "III", "IV", "V"]}, "inputs": {"type": "array", "items": ref("RuleInput")}}),
    "maudsley": obj({"total": {"type": "integer"}, "band": {"type": "string", "enum": ["mild", "moderate", "severe"]}, "inputs": {"type": "array", "items": ref("RuleInput")}}),
    "referrals": {"type": "array", "items": ref("Referral")},
    "open_tasks": {"type": "array", "items": ref("Task")},
    "open_handoffs": {"type": "array", "items": ref("OpenHandoff")},
    "recent_notes": {"type": "array", "items": ref("Note")}},
    ["id", "team_id", "mrn", "display_name", "status", "enrolled_on", "care_plan", "scores", "trials", "trd", "thase_rush", "referrals", "open_tasks", "open_handoffs", "recent_notes"]),
 "Created": obj({"id": uuid, "handoff_ids": {"type": "array", "items": uuid, "description": "Handoffs the playbook made of this change."},
                 "severity": {"type": "string", "enum": SEVERITIES, "description": "A recorded score's severity band."}}, ["id"]),
 "Moved": obj({"id": uuid, "status": {"type": "string"},
               "superseded_handoff_ids": {"type": "array", "items": uuid, "description": "Open handoffs whose cause this move withdrew: closed as superseded."},
               "cancelled_task_ids": {"type": "array", "items": uuid, "description": "A discharge: the other open tasks, cancelled."}},
              ["id", "status", "superseded_handoff_ids"]),
 "Correction": obj({"id": uuid, "record": {"type": "string", "enum": ["measurement", "trial", "trial-outcome", "referral", "note"]}, "patient_id": uuid,
                    "entered_in_error": ref("EnteredInError"),
                    "superseded_handoff_ids": {"type": "array", "items": uuid, "description": "Open handoffs it caused, now closed as superseded."},
                    "trd_withdrawn": {"type": "boolean", "description": "The patient no longer meets the TRD definition."}},
                   ["id", "record", "patient_id", "entered_in_error", "superseded_handoff_ids", "trd_withdrawn"]),
 "IntegrationEvent": obj({"event_id": {"type": "string", "pattern": "^[0-9]+$"}, "cursor": {"type": "string", "description": "This event's position in the feed (opaque)."},
                          "type": {"type": "string", "enum": EVENT_TYPES}, "team_id": uuid, "patient_id": uuid, "occurred_at": ts,
                          "details": {"type": "object", "additionalProperties": {"type": "string"},
                                      "description": "Ids (`*_id`) and kinds (outcome, status, role, step...) only: never a note's text, never anything of a psychotherapy note."}},
                         ["event_id", "cursor", "type", "team_id", "occurred_at", "details"],
                         "An event as integrations see it; webhook bodies carry the same object as `data`."),
 "FeedPage": obj({"items": {"type": "array", "items": ref("IntegrationEvent")},
                  "next_cursor": {"type": "string", "description": "Always present: pass it as `after` on the next request (also when `items` is empty)."}}),
 "Webhook": obj({"id": uuid, "url": {"type": "string", "format": "uri"}, "event_types": {"type": "array", "items": {"type": "string"}}, "team_id": uuid,
                 "description": {"type": "string"}, "status": {"type": "string", "enum": ["active", "paused", "disabled"]},
                 "disabled_reason": {"type": "string"}, "created_at": ts, "updated_at": ts,
                 "secret": {"type": "string", "pattern": "^whsec_", "description": "Only in the answers of create and rotate-secret: keep it, it is not shown again."}},
                ["id", "url", "event_types", "description", "status", "created_at", "updated_at"]),
 "WebhookPage": page("Webhook"),
 "Delivery": obj({"id": uuid, "webhook_id": uuid, "event_id": {"type": "string"}, "event_type": {"type": "string"},
                  "status": {"type": "string", "enum": ["pending", "sending", "succeeded", "dead", "cancelled"]}, "attempts": {"type": "integer"},
                  "next_attempt_at": ts, "last_attempt_at": ts, "last_status": {"type": "integer"}, "last_error": {"type": "string"}, "delivered_at": ts, "created_at": ts},
                 ["id", "webhook_id", "event_id", "event_type", "status", "attempts", "created_at"]),
 "DeliveryPage": page("Delivery"),
 "ReportScore": obj({"total": {"type": "integer"}, "taken_at": ts, "severity": {"type": "string", "enum": SEVERITIES},
                     "safety_signal": {"type": "boolean", "description": "Item 9 above 0 (given for the trend's points)."}},
                    ["total", "taken_at", "severity"]),
 "WeeklyReport": obj({
    "team_id": uuid, "team_name": {"type": "string"}, "iso_week": {"type": "string", "pattern": "^[0-9]{4}-W[0-9]{2}$"},
    "week_start": ts, "week_end": ts, "as_of": ts, "generated_at": ts,
    "time_zone": {"type": "string", "description": "The team's time zone: the week is Monday 00:00 to Monday 00:00 there (week_start and week_end are those instants, in UTC)."},
    "caseload": obj({"size": {"type": "integer"}, "measured": {"type": "integer", "description": "Patients with a baseline and a later PHQ-9: the rates' denominator."},
                     "responders": {"type": "integer"}, "remitters": {"type": "integer"}, "response_rate": {"type": "number"}, "remission_rate": {"type": "number"},
                     "contacts_this_week": {"type": "integer"}, "new_patients": {"type": "integer"}, "handoffs_produced": {"type": "integer"},
                     "handoffs_acknowledged_on_time": {"type": "integer"}, "handoffs_acknowledged_late": {"type": "integer"},
                     "handoffs_unacknowledged": {"type": "integer"}, "listed": {"type": "integer"},
                     "awaiting_authorisation": {"type": "integer", "description": "Referrals whose prior-authorisation packet is drafted or submitted, not yet decided."},
                     "longest_authorisation_wait_days": {"type": "integer", "description": "The longest of those waits, in whole days."}},
                    ["size", "measured", "responders", "remitters", "contacts_this_week", "new_patients", "handoffs_produced",
                     "handoffs_acknowledged_on_time", "handoffs_acknowledged_late", "handoffs_unacknowledged", "listed"]),
    "patients": {"type": "array", "description": "The patients who need a decision, most pressing first.", "items": obj({
        "id": uuid, "mrn": {"type": "string"}, "display_name": {"type": "string"}, "status": {"type": "string"}, "enrolled_on": ts,
        "weeks_in_treatment": {"type": "integer"}, "rank": {"type": "integer", "minimum": 1, "maximum": 7},
        "reasons": {"type": "array", "items": obj({"kind": {"type": "string", "enum": ["safety", "new-patient", "not-improving", "newly-trd", "failed-trial",
                                                                                     "referral", "overdue", "no-contact", "remission"]},
                                                    "text": {"type": "string"}})},
        "baseline": ref("ReportScore"), "latest": ref("ReportScore"), "change": {"type": "number", "description": "Improvement from baseline, a fraction."},
        "trend": {"type": "array", "items": ref("ReportScore")},
        "current_trial": obj({"kind": {"type": "string"}, "drug": {"type": "string"}, "therapy": {"type": "string"}, "started_on": ts, "weeks": {"type": "integer"}},
                             ["kind", "started_on", "weeks"], "The newest trial not stopped."),
        "ongoing_trials": {"type": "array", "description": "Every trial not stopped, oldest first (a medication and its augmentation run together); absent in snapshots kept before it was added.",
                           "items": obj({"kind": {"type": "string"}, "drug": {"type": "string"}, "therapy": {"type": "string"}, "started_on": ts, "weeks": {"type": "integer"}},
                                        ["kind", "started_on", "weeks"])},
        "is_trd": {"type": "boolean"}, "failed_trials": {"type": "integer"}, "thase_rush_stage": {"type": "string"},
        "maudsley_total": {"type": "integer"}, "maudsley_band": {"type": "string"},
        "open_handoffs": {"type": "array", "items": obj({"role": {"type": "string"}, "title": {"type": "string", "description": "What to do: the handoff's task title (absent in snapshots kept before it was added)."}, "reason": {"type": "string", "description": "Why: its cause."}, "due_at": ts, "overdue": {"type": "boolean"}, "escalated": {"type": "boolean"}}, ["role", "reason", "due_at", "overdue", "escalated"])},
        "open_tasks": {"type": "array", "items": obj({"title": {"type": "string"}, "status": {"type": "string"}, "priority": {"type": "string"}, "assignee": {"type": "string"},
                                                       "due_at": ts, "overdue": {"type": "boolean"}}, ["title", "status", "priority", "assignee", "overdue"])},
        "referrals": {"type": "array", "items": obj({"kind": {"type": "string"}, "status": {"type": "string"}, "target_clinic": {"type": "string"}, "created_at": ts,
                                                      "authorisation": {"type": "string", "enum": ["drafted", "submitted", "approved", "denied"]},
                                                      "authorisation_since": ts, "authorisation_days": {"type": "integer", "minimum": 0}},
                                                     ["kind", "status", "target_clinic", "created_at"])},
        "last_contact": ts},
        ["id", "mrn", "display_name", "status", "enrolled_on", "weeks_in_treatment", "rank", "reasons", "trend", "is_trd", "failed_trials",
         "thase_rush_stage", "open_handoffs", "open_tasks", "referrals"])}},
    ["team_id", "team_name", "iso_week", "week_start", "week_end", "as_of", "generated_at", "caseload", "patients"],
    "The weekly case-review report (format=json). Psychotherapy notes are never part of it."),
 "ReportSnapshot": obj({"id": uuid, "team_id": uuid, "iso_week": {"type": "string"}, "taken_by": uuid, "taken_at": ts, "recommendations": {"type": "integer"},
                        "report": ref("WeeklyReport")}, ["id", "team_id", "iso_week", "taken_by", "taken_at"]),
 "ReportSnapshotPage": page("ReportSnapshot"),
 "Recommendation": obj({"id": uuid, "snapshot_id": uuid, "patient_id": uuid, "note_id": uuid, "task_id": uuid}, ["id", "snapshot_id", "patient_id", "note_id"]),
 # request bodies
 "NewRecommendation": obj({"patient_id": uuid, "text": text(10000),
                           "task": obj({"title": text(300), "role": {"type": "string", "enum": POOL_ROLES}, "due_at": {"anyOf": [req_ts, {"type": "null"}]}}, ["title", "role"])},
                          ["patient_id", "text"], "A case-review note on the patient and, with `task`, a task for that role's pool, tied to the snapshot."),
 "NewWebhook": obj({"url": {"type": "string", "format": "uri", "maxLength": 2000, "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^\\x00]+$"},
                    "event_types": {"type": "array", "minItems": 1, "maxItems": 50, "items": {"type": "string", "enum": ["*"] + EVENT_TYPES}},
                    "team_id": uuid, "description": free(500)}, ["url", "event_types"],
                   "The URL must be http or https and resolve to public addresses only (an operator may allow private networks). `*` subscribes to every type."),
 "NewTeam": obj({"name": text(200), "time_zone": {"type": "string", "maxLength": 64, "pattern": "^[A-Za-z][A-Za-z0-9_+/-]{0,63}$",
                                                   "description": "An IANA time zone (default UTC); an unknown one is 422 with close matches."}}, ["name"]),
 "TimeZoneBody": obj({"time_zone": {"type": "string", "maxLength": 64, "pattern": "^[A-Za-z][A-Za-z0-9_+/-]{0,63}$", "description": "An IANA time zone, e.g. America/New_York."}}),
 "NewMember": obj({"display_name": text(200), "email": free(320),
                   "roles": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": ["psychiatrist", "psychologist", "social_worker", "care_manager", "admin", "compliance"]}},
                   "token_expires_at": {**req_ts, "description": "Default: 90 days from now; at most 365 days away."}}, ["display_name", "roles"]),
 "NewPatient": obj({"team_id": uuid, "mrn": text(64), "display_name": text(200), "enrolled_on": team_day}),
 "PatientStatusChange": obj({"status": {"type": "string", "enum": ["enrolled", "active", "relapse-prevention", "discharged"]}}),
 "CarePlanBody": obj({"goals": {"type": "array", "maxItems": 50, "items": free(1000)},
                      "problems": {"type": "array", "maxItems": 50, "items": free(1000)},
                      "treatment_line": free(2000)}),
 "NewTask": obj({"title": text(300), "description": free(4000), "owner_id": uuid,
                 "pool_role": {"type": "string", "enum": POOL_ROLES}, "priority": {"type": "string", "enum": ["routine", "urgent", "asap", "stat"]},
                 "due_at": req_ts, "not_before": req_ts}, ["title"], "Give an owner (a member of the patient's team) or a role pool; not_before cannot be after due_at.")
            | {"anyOf": [{"required": ["owner_id"]}, {"required": ["pool_role"]}]},
 "TaskAction": obj({"note": free(4000), "reason": free(1000)}, [],
                   "`note`: what was done or where it stands, kept with the move's event (the patient's history); on complete it is also the task's `evidence`. cancel and fail need a reason (`reason`, or `note`); hold takes one."),
 "Reassignment": obj({"role": {"type": "string", "enum": POOL_ROLES}, "member_id": uuid, "reason": text(1000)}, ["role", "reason"],
                     "To another role's pool, or to a named member holding that role; the new receiver acknowledges it afresh."),
 "CorrectionBody": obj({"reason": text(1000)}),
 "NewNote": obj({"kind": {"type": "string", "enum": ["progress", "psychotherapy", "social"], "default": "progress"}, "body": text(50000)}, ["body"]),
 "Amendment": obj({"body": text(50000)}),
 "NewMeasurement": {"description": "A score: the item answers (`items`) or the `total`, not both. PHQ-9: nine items 0-3 (total 0-27); GAD-7: seven items 0-3 (0-21); MADRS: ten items 0-6 (0-60). `taken_at` defaults to now and cannot be in the future.",
     "oneOf": [m for inst, n, hi, tot in [("PHQ-9", 9, 3, 27), ("GAD-7", 7, 3, 21), ("MADRS", 10, 6, 60)] for m in [
        obj({"instrument": {"const": inst}, "items": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": hi}, "minItems": n, "maxItems": n}, "taken_at": req_ts},
            ["instrument", "items"]) | {"not": {"required": ["total"]}},
        obj({"instrument": {"const": inst}, "total": {"type": "integer", "minimum": 0, "maximum": tot}, "taken_at": req_ts},
            ["instrument", "total"]) | {"not": {"required": ["items"]}}]]},
 "NewTrial": obj({"kind": {"type": "string", "enum": ["medication", "augmentation", "psychotherapy", "neuromodulation"]},
                  "drug": {"type": "string", "enum": DRUGS, "description": "A drug of the dose table (the seeded one is listed; an operator may add drugs)."},
                  "daily_dose_mg": {"type": "number", "exclusiveMinimum": 0, "maximum": 100000}, "started_on": team_day,
                  "therapy": free(200), "confirm_high_dose": {"type": "boolean"}, "high_dose_reason": free(1000)}, ["kind", "started_on"],
                 "Medication and augmentation trials need `drug` and `daily_dose_mg`. A dose above the dose table's maximum is refused (422, naming the maximum) "
                 "unless `confirm_high_dose` is true and `high_dose_reason` says why. `started_on` cannot be in the future nor more than a year before enrolment.")
            | {"allOf": [{"if": {"properties": {"kind": {"enum": ["medication", "augmentation"]}}}, "then": {"required": ["drug", "daily_dose_mg"], "properties": {"drug": {"type": "string"}, "daily_dose_mg": {"type": "number"}}}},
                         HIGH_DOSE_REASON]},
 "NewDose": obj({"daily_dose_mg": {"type": "number", "exclusiveMinimum": 0, "maximum": 100000}, "from": team_day,
                 "confirm_high_dose": {"type": "boolean"}, "high_dose_reason": free(1000)}, ["daily_dose_mg", "from"],
                "The daily dose from `from` on; dose steps from that day on are replaced. A dose above the dose table's maximum is refused (422) "
                "unless `confirm_high_dose` is true and `high_dose_reason` says why. `from` is within the trial and not in the future.")
            | HIGH_DOSE_REASON,
 "NewTrialOutcome": obj({"outcome": {"type": "string", "enum": ["response", "partial-response", "non-response", "intolerance", "stopped-early"],
                                     "description": "Omit to derive it from the PHQ-9 before the trial and the last one by its stop."},
                         "stopped_on": team_day, "adherence": {"type": "number", "minimum": 0, "maximum": 1},
                         "sessions": {"type": "integer", "minimum": 0, "maximum": 1000}, "stop_reason": free(1000)}, ["stopped_on"]),
 "NewReferral": obj({"kind": {"type": "string", "enum": ["tms", "ect", "esketamine", "other"]}, "target_clinic": text(300), "note": free(4000),
                     "reason": free(1000)},
                    ["kind", "target_clinic"], "A second open referral of the same kind for a patient is 409 (with `existing`) unless `reason` says why."),
 "ReferralStatusChange": obj({"status": {"type": "string", "enum": ["requested", "accepted", "scheduled", "in-course", "completed", "declined", "cancelled"]},
                              "reason": free(1000)}, ["status"],
                             "A move the status machine does not allow is 409 naming the allowed ones. Declined or cancelled, the referral's open handoffs are superseded."),
}
def resp(code, desc, schema=None, headers=None):
    r = {"description": desc}
    if schema: r["content"] = {"application/json": {"schema": ref(schema)}}
    if headers: r["headers"] = headers
    return {str(code): r}
def problems(*codes):
    out = {}
    names = {"400": "Malformed request: bad JSON, a missing field, a bad parameter", "401": "No valid token", "403": "The caller's roles do not allow this",
             "404": "Not found, or not on the caller's teams", "409": "Conflict with the current state (or an Idempotency-Key still in flight)",
             "412": "If-Match is stale", "413": "The body is too large", "422": "Well-formed but not valid (or an Idempotency-Key reused with another body)",
             "428": "If-Match is required", "503": "The database is unavailable"}
    for c in codes:
        out[c] = {"$ref": f"#/components/responses/{c}"}
    return out
responses = {c: {"description": d, "content": {"application/problem+json": {"schema": ref("Problem")}}} for c, d in {
    "400": "Malformed request: bad JSON, a missing field or a bad parameter", "401": "No valid token", "403": "The caller's roles do not allow this",
    "404": "Not found, or not on the caller's teams (existence is not revealed)", "409": "Conflict with the current state, or an Idempotency-Key still in flight (or whose first response was lost)",
    "412": "If-Match does not match the current version", "413": "The body is too large", "422": "Well-formed but not valid, or an Idempotency-Key reused with another body",
    "428": "If-Match is required", "503": "The database is unavailable"}.items()}
responses["429"] = {"description": "Too many failed authentications from this token or address; wait as Retry-After says",
                    "content": {"application/problem+json": {"schema": ref("Problem")}},
                    "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string", "pattern": "^[0-9]+$"}}}}
responses["503"]["headers"] = {"Retry-After": {"description": "Seconds to wait before trying again (the same Idempotency-Key makes a retried write safe).",
                                                "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
STATUS_LIST = {"type": "string", "pattern": "^(requested|accepted|in-progress|on-hold|completed|cancelled|failed)(,(requested|accepted|in-progress|on-hold|completed|cancelled|failed))*$"}
P = lambda name, where, schema, desc, required=False: {"name": name, "in": where, "required": required, "schema": schema, "description": desc}
idp = P("id", "path", uuid, "The resource's id.", True)
limit = P("limit", "query", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}, "Page size (1-200).")
cursor = P("cursor", "query", uuid, "The `next_cursor` of the previous page (opaque: pass it back as it came).")
weekp = P("week", "path", {"type": "string", "pattern": "^(19[0-9]{2}|2[0-9]{3})-W(0[1-9]|[1-4][0-9]|5[0-3])$"},
          "An ISO week, e.g. 2026-W48 (Monday to Sunday, UTC). Week 53 exists only in some years (otherwise 400).", True)
numcursor = P("cursor", "query", {"type": "string", "pattern": "^[0-9]{1,18}$"}, "The `next_cursor` of the previous page (opaque: pass it back as it came).")

idem = {"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
        "description": "Same key and body: the first response is replayed (an answer that held a token or a webhook secret replays as 409 `secret-shown-once`: secrets are shown once). Same key, other body: 422. Same key while the first is in flight: 409. Kept at least 24 hours."}
reqid = {"X-Request-Id": {"description": "The request id (echoed when the caller sent a sane one).", "schema": {"type": "string"}}}
def op(summary, tag, params=(), body=None, ok=None, errs=(), post=False, opid=None, desc=None):
    o = {"summary": summary, "tags": [tag], "operationId": opid, "parameters": list(params) + ([idem] if post else [])}
    if desc: o["description"] = desc
    if body: o["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(body)}}}
    rs = {}
    rs.update(ok)
    rs.update(problems("401", *errs, "429", "503"))
    for r in rs.values():
        if "$ref" not in r: r.setdefault("headers", {}).update(reqid)
    o["responses"] = rs
    return o
INC = P("include_entered_in_error", "query", {"type": "boolean", "default": False}, "Include records marked entered in error (marked as such).")
created = lambda s="Created": resp(201, "Created", s, {"Location": {"description": "Where the new resource is", "schema": {"type": "string"}}})
paths = {
 "/v1/me": {"get": op("Who the token speaks for", "me", ok=resp(200, "The caller", "Me"), opid="getMe")},
 "/v1/teams": {"get": op("My teams", "teams", ok=resp(200, "Teams", "TeamPage"), opid="listTeams"),
               "post": op("Create a team (admins)", "teams", body="NewTeam", ok=resp(201, "Created", "Team", {"Location": {"schema": {"type": "string"}}}),
                          errs=("400", "403", "409", "413", "422"), post=True, opid="createTeam")},
 "/v1/teams/{id}": {"get": op("One of my teams", "teams", [idp], ok=resp(200, "Team", "Team"), errs=("400", "404"), opid="getTeam")},
 "/v1/teams/{id}/time-zone": {"put": op("Change the team's time zone (its admins; audited, an event)", "teams", [idp], body="TimeZoneBody",
    ok=resp(200, "The team", "Team"), errs=("400", "403", "404", "413", "422"), opid="setTeamTimeZone",
    desc="An IANA name; an unknown one is 422 with close matches. The weekly report's weeks and date-only inputs follow the zone.")},
 "/v1/teams/{id}/members": {
    "get": op("A team's members", "teams", [idp], ok=resp(200, "Members", "MemberPage"), errs=("400", "404"), opid="listMembers"),
    "post": op("Add a member with roles and a token (the team's admins)", "teams", [idp], body="NewMember",
               ok=resp(201, "Created; the token is shown once", "CreatedMember", {"Location": {"schema": {"type": "string"}}}),
               errs=("400", "403", "404", "409", "413", "422"), post=True, opid="createMember")},
 "/v1/teams/{id}/members/{memberId}": {
    "put": op("Set a member's roles on the team (its admins): a change of role, or a new admin", "teams",
              [idp, P("memberId", "path", uuid, "The member's id.", True)], body="MemberRoles",
              ok=resp(200, "The member with their roles on the team", "Member"), errs=("400", "403", "404", "409", "413", "422"), opid="setMemberRoles",
              desc="The roles replace the member's roles on this team (a `member.roles_changed` event when they change). Only the team's own members: anyone else is 404 (giving an existing member roles on another team, to move them, is the operator's: `care-server admin set-roles`). Not for service accounts (their scopes decide, 422), not the integration role (422); the team's last admin keeps admin (409). Takes effect with the member's next request."),
    "delete": op("Take a member off the team (its admins): their roles there go, their open tasks on its patients go back to the pools", "teams",
                 [idp, P("memberId", "path", uuid, "The member's id.", True)],
                 ok=resp(200, "Taken off; the tasks released", "RemovedMember"), errs=("400", "403", "404", "409"), opid="removeMember",
                 desc="Their next request no longer reaches the team's patients. Every open task they own on the team's patients is requested again in the pool of its role (a `task.released` event each), and a `member.removed` event is written. The team's last admin cannot be taken off (409). Their tokens stay valid for their other teams; an operator revokes them with `care-server admin revoke-token --member`.")},
 "/v1/inbox": {"get": op("What changed on my patients since a time: handoffs for my roles (and a new cause joining one), scores (safety signals first), trials started and dose changes, failed trials, treatment resistance, referrals and their moves, notes by others", "tasks",
    [P("since", "query", req_ts, "From when (RFC 3339).", True), P("limit", "query", {"type": "integer", "minimum": 1, "maximum": 200, "default": 200}, "At most this many.")],
    ok=resp(200, "What changed", "InboxPage"), errs=("400",), opid="getInbox",
    desc="What the caller did is left out, and discharged patients. Safety signals come first (scores with one, and the handoffs they made), then the newest. Each listed patient's read is audited.")},
 "/v1/resolve": {"get": op("My records whose id starts with a few characters (at most 10)", "patients",
    [P("kind", "query", {"type": "string", "enum": ["task", "trial", "referral", "note", "measurement", "snapshot"]},
       "What the id names (a handoff's id is its task's).", True),
     P("prefix", "query", {"type": "string", "pattern": "^([0-9a-fA-F]{4,32}|[0-9a-fA-F]{8}(-([0-9a-fA-F]{1,3}|[0-9a-fA-F]{4}(-([0-9a-fA-F]{1,3}|[0-9a-fA-F]{4}(-([0-9a-fA-F]{1,3}|[0-9a-fA-F]{4}(-[0-9a-fA-F]{1,12})?))?))?))?)$", "maxLength": 36},
       "The first 4 to 32 hex digits of the id, with hyphens where the id has them or none (e.g. 3f2b8c1e).", True)],
    ok=resp(200, "Matches", "ResolvedPage"), errs=("400",), opid="resolveID",
    desc="For people naming records by the 8 characters the CLI shows. Only the caller's teams' records; psychotherapy notes only to their author.")},
 "/v1/patients": {
    "get": op("Patients of my teams, by name", "patients",
              [P("team_id", "query", uuid, "Only this team."), P("search", "query", free(100), "Part of a name or MRN (any case), or the first 4 or more characters of the patient's id."), limit, cursor],
              ok=resp(200, "Patients", "PatientPage"), errs=("400",), opid="listPatients"),
    "post": op("Enrol a patient", "patients", body="NewPatient", ok=created(), errs=("400", "403", "404", "409", "413", "422"), post=True, opid="enrolPatient")},
 "/v1/patients/{id}": {"get": op("A patient's summary: plan, scores, response, trials, TRD and stage with reasons, referrals, open tasks and handoffs, recent notes",
                                 "patients", [idp], ok=resp(200, "Summary", "PatientSummary"), errs=("400", "403", "404"), opid="getPatient")},
 "/v1/patients/{id}/status": {"post": op("Move a patient (enrolled, active, relapse-prevention, discharged)", "patients", [idp], body="PatientStatusChange",
                                         ok=resp(200, "Moved; a discharge closes the patient's open work", "Moved"), errs=("400", "403", "404", "409", "413", "422"), post=True, opid="changePatientStatus")},
 "/v1/patients/{id}/care-plan": {
    "get": op("The care plan", "care plans", [idp], ok=resp(200, "The plan", "CarePlan", {"ETag": {"schema": {"type": "string"}, "description": "Send it back as If-Match to save."}}),
              errs=("400", "403", "404"), opid="getCarePlan"),
    "put": op("Save a new version of the care plan", "care plans",
              [idp, {"name": "If-Match", "in": "header", "required": True, "schema": {"type": "string", "pattern": "^(W/)?\"v[0-9]{1,9}\"$"}, "description": "The ETag of the version edited: a stale one is 412, a malformed one 400, none 428."}],
              body="CarePlanBody", ok=resp(200, "Saved", "CarePlan", {"ETag": {"schema": {"type": "string"}}}),
              errs=("400", "403", "404", "412", "413", "422", "428"), opid="saveCarePlan")},
 "/v1/patients/{id}/tasks": {
    "get": op("A patient's tasks", "tasks", [idp, P("status", "query", STATUS_LIST, "Comma-separated statuses."), limit, cursor],
              ok=resp(200, "Tasks", "TaskPage"), errs=("400", "403", "404"), opid="listPatientTasks"),
    "post": op("Create a task for a member or a role's pool", "tasks", [idp], body="NewTask", ok=created(), errs=("400", "403", "404", "413", "422"), post=True, opid="createTask")},
 "/v1/tasks": {"get": op("My queue: tasks I own and requested tasks in my roles' pools, most urgent and soonest due first", "tasks",
                         [P("status", "query", STATUS_LIST, "Comma-separated statuses (default: open ones)."),
                          P("role", "query", {"type": "string", "enum": POOL_ROLES}, "Only this role's pool."),
                          P("due_before", "query", req_ts, "Only tasks due before this time."), limit, numcursor],
                         ok=resp(200, "Tasks", "TaskPage"), errs=("400",), opid="listMyTasks")},
 "/v1/tasks/{id}": {"get": op("A task (a handoff's id names its task too)", "tasks", [idp], ok=resp(200, "Task", "Task"), errs=("400", "403", "404"), opid="getTask")},
}
for action, what in [("claim", "Claim a task from my role's pool"), ("start", "Start a task (an unclaimed one is claimed for me)"),
                     ("hold", "Put a task on hold"), ("resume", "Take a task off hold"),
                     ("complete", "Complete a task (note: evidence); a requested or accepted one is claimed for me in the same step"),
                     ("cancel", "Cancel a task (reason required)"), ("fail", "Close a task as failed (reason required)")]:
    o = op(what, "tasks", [idp], ok=resp(200, "The task", "Task"), errs=("400", "403", "404", "409", "413", "422"), post=True, opid=f"{action}Task")
    o["requestBody"] = {"required": False, "content": {"application/json": {"schema": ref("TaskAction")}}}
    paths[f"/v1/tasks/{{id}}/{action}"] = {"post": o}
paths.update({
 "/v1/patients/{id}/notes": {
    "get": op("A patient's notes, newest first, with their authors' names (psychotherapy notes only to their author)", "notes", [idp, INC, limit, cursor], ok=resp(200, "Notes", "NotePage"), errs=("400", "403", "404"), opid="listNotes"),
    "post": op("Add a note", "notes", [idp], body="NewNote", ok=created(), errs=("400", "403", "404", "413", "422"), post=True, opid="addNote")},
 "/v1/notes/{id}/amendments": {"post": op("Amend a note (a new note of the same kind pointing at it; notes are never edited): its author only", "notes", [idp],
                                          body="Amendment", ok=created(), errs=("400", "403", "404", "409", "413", "422"), post=True, opid="amendNote")},
 "/v1/patients/{id}/measurements": {
    "get": op("A patient's scores with their severity bands", "measurements", [idp, INC, limit, cursor], ok=resp(200, "Scores", "MeasurementPage"), errs=("400", "403", "404"), opid="listMeasurements"),
    "post": op("Record a score (a PHQ-9 item 9 above 0 makes same-day safety handoffs)", "measurements", [idp], body="NewMeasurement", ok=created(),
               errs=("400", "403", "404", "413", "422"), post=True, opid="recordMeasurement")},
 "/v1/patients/{id}/trials": {
    "get": op("A patient's treatment trials with adequacy, oldest first", "trials", [idp, INC, limit, cursor], ok=resp(200, "Trials", "TrialPage"), errs=("400", "403", "404"), opid="listTrials"),
    "post": op("Start a trial (medication: psychiatrists; psychotherapy: psychologists)", "trials", [idp], body="NewTrial", ok=created(),
               errs=("400", "403", "404", "409", "413", "422"), post=True, opid="startTrial",
               desc="A trial of the same drug (or psychotherapy) still running for the patient is 409, with `existing` naming it: change its dose, or record its outcome first.")},
 "/v1/trials/{id}/dose": {"post": op("Change a running medication or augmentation trial's daily dose (titration up or down)", "trials", [idp], body="NewDose",
                                     ok=resp(200, "The trial as it now stands, its adequacy as of today", "Trial"), errs=("400", "403", "404", "409", "413", "422"), post=True,
                                     opid="changeTrialDose", desc="Psychiatrists. A trial that has ended or was entered in error is 409; a psychotherapy trial has no dose (422).")},
 "/v1/trials/{id}/outcome": {"post": op("Record how a trial ended; a failed adequate trial makes handoffs for the other roles", "trials", [idp], body="NewTrialOutcome",
                                        ok=resp(201, "Recorded", "TrialOutcomeResult"), errs=("400", "403", "404", "409", "413", "422"), post=True, opid="recordTrialOutcome")},
 "/v1/patients/{id}/referrals": {
    "get": op("A patient's referrals, oldest first", "referrals", [idp, INC, limit, cursor], ok=resp(200, "Referrals", "ReferralPage"), errs=("400", "403", "404"), opid="listReferrals"),
    "post": op("Make a referral (TMS, ECT, esketamine: psychiatrists)", "referrals", [idp], body="NewReferral", ok=created(),
               errs=("400", "403", "404", "409", "413", "422"), post=True, opid="makeReferral")},
 "/v1/referrals/{id}/status": {"post": op("Move a referral (declined or cancelled: its open handoffs are superseded)", "referrals", [idp], body="ReferralStatusChange", ok=resp(200, "Moved", "Moved"),
                                          errs=("400", "403", "404", "409", "413", "422"), post=True, opid="moveReferral")},
 "/v1/handoffs": {"get": op("Handoffs for my roles, soonest due first", "handoffs",
                            [P("include_acknowledged", "query", {"type": "boolean", "default": False}, "Include acknowledged ones."), limit, cursor],
                            ok=resp(200, "Handoffs", "HandoffPage"), errs=("400",), opid="listHandoffs")},
 "/v1/handoffs/{id}/acknowledge": {"post": op("Acknowledge a handoff (by its id or its task's): members holding its receiving role, the member it was given to, or the care manager", "handoffs", [idp],
                                              ok=resp(200, "The handoff's task", "Task"), errs=("400", "403", "404", "409"), post=True, opid="acknowledgeHandoff")},
 "/v1/handoffs/{id}/reassign": {"post": op("Give a handoff to another role, or a named member, with a reason", "handoffs", [idp], body="Reassignment",
                                           ok=resp(200, "The handoff's task", "Task"), errs=("400", "403", "404", "409", "413", "422"), post=True, opid="reassignHandoff")},
 "/v1/patients/{id}/events": {"get": op("A patient's history, newest first", "events", [idp, limit, numcursor], ok=resp(200, "Events", "EventPage"),
                                        errs=("400", "403", "404"), opid="listPatientEvents")},
 "/v1/events": {"get": op("The integration feed: events of my teams in commit order (never skips), long-polling with `wait`", "events",
    [P("after", "query", {"type": "string", "pattern": "^[0-9]{1,18}-[0-9]{1,18}$"}, "The `next_cursor` of the previous answer; omit to start at the beginning."),
     P("limit", "query", {"type": "integer", "minimum": 1, "maximum": 200, "default": 100}, "Most events per answer (1-200)."),
     P("wait", "query", {"type": "integer", "minimum": 0, "maximum": 60, "default": 0}, "Seconds to wait for an event when there is none yet (0-60); the answer comes as soon as one commits.")],
    ok=resp(200, "Events after the cursor (possibly none) and the cursor to pass next", "FeedPage"), errs=("400", "403"), opid="readFeed",
    desc="Events are ordered by the transaction that wrote them, and an event is given only once every transaction that started before it has ended, so a reader that follows `next_cursor` never misses one. Items carry ids and kinds only. Clinical members read their teams' events; service accounts need the events:read scope. Each answer is audited as a read of the patients it names.")},
 "/v1/webhooks": {
    "get": op("My webhook subscriptions", "webhooks", [limit, cursor], ok=resp(200, "Subscriptions, oldest first", "WebhookPage"), errs=("400", "403"), opid="listWebhooks"),
    "post": op("Subscribe a URL to event types (the answer holds the signing secret, once)", "webhooks", body="NewWebhook",
               ok=resp(201, "Created; keep `secret`", "Webhook", {"Location": {"description": "Where the new resource is", "schema": {"type": "string"}}}),
               errs=("400", "403", "404", "409", "413", "422"), post=True, opid="createWebhook",
               desc="For service accounts with the webhooks:manage scope. Deliveries follow the Standard Webhooks specification: headers webhook-id (the same on every retry), webhook-timestamp and webhook-signature (`v1,` and base64 HMAC-SHA256 of `id.timestamp.body` keyed by the base64 part of the `whsec_` secret). Failed attempts are retried with exponential backoff and jitter; after the last one the delivery is dead and can be redelivered. A 410 answer disables the subscription.")},
 "/v1/webhooks/{id}": {
    "get": op("A webhook subscription", "webhooks", [idp], ok=resp(200, "Subscription", "Webhook"), errs=("400", "403", "404"), opid="getWebhook"),
    "delete": op("Delete a subscription and its deliveries", "webhooks", [idp], ok={"204": {"description": "Deleted"}}, errs=("400", "403", "404"), opid="deleteWebhook")},
 "/v1/webhooks/{id}/pause": {"post": op("Pause: deliveries are kept and wait", "webhooks", [idp], ok=resp(200, "Paused", "Webhook"), errs=("400", "403", "404", "409"), post=True, opid="pauseWebhook")},
 "/v1/webhooks/{id}/resume": {"post": op("Resume a paused or disabled subscription", "webhooks", [idp], ok=resp(200, "Active", "Webhook"), errs=("400", "403", "404", "409"), post=True, opid="resumeWebhook")},
 "/v1/webhooks/{id}/rotate-secret": {"post": op("A new signing secret; the previous one keeps signing beside it for 24 hours", "webhooks", [idp],
    ok=resp(200, "The subscription with its new `secret`", "Webhook"), errs=("400", "403", "404", "409"), post=True, opid="rotateWebhookSecret")},
 "/v1/webhooks/{id}/deliveries": {"get": op("A subscription's deliveries, newest first, with status, attempts and the last error", "webhooks",
    [idp, P("status", "query", {"type": "string", "enum": ["pending", "sending", "succeeded", "dead", "cancelled"]}, "Only deliveries in this status."), limit, cursor],
    ok=resp(200, "Deliveries", "DeliveryPage"), errs=("400", "403", "404"), opid="listDeliveries")},
 "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver": {"post": op("Send a delivery again (a dead, cancelled or succeeded one)", "webhooks",
    [idp, P("delivery_id", "path", uuid, "The delivery's id.", True)], ok=resp(202, "Queued for sending", "Delivery"),
    errs=("400", "403", "404", "409"), post=True, opid="redeliver")},
 "/v1/teams/{id}/reports/weekly/{week}": {"get": op("The weekly case-review report of a team (format json, html, md or csv)", "reports",
    [idp, weekp, P("format", "query", {"type": "string", "enum": ["json", "html", "md", "csv"], "default": "json"}, "json (the data), html (self-contained, prints on A4 landscape), md, or csv (one row per listed patient).")],
    ok={"200": {"description": "The report", "headers": reqid, "content": {"application/json": {"schema": ref("WeeklyReport")},
            "text/html": {"schema": {"type": "string"}}, "text/markdown": {"schema": {"type": "string"}}, "text/csv": {"schema": {"type": "string"}}}}},
    errs=("400", "403", "404"), opid="weeklyReport",
    desc="Patients who need a decision first, in this order: safety signals; new patients; not improving (under 50% better at week 8 or later) or newly TRD; failed trials and referrals this week; overdue handoffs and tasks; no contact for 4 weeks; remission, ready for a relapse-prevention plan. For the team's clinicians and the compliance role; audited as a read of each listed patient.")},
 "/v1/teams/{id}/reports/weekly/{week}/snapshots": {
    "get": op("Snapshots kept of this week's report", "reports", [idp, weekp], ok=resp(200, "Snapshots, oldest first", "ReportSnapshotPage"),
              errs=("400", "403", "404"), opid="listReportSnapshots"),
    "post": op("Keep the report as shown now (immutable)", "reports", [idp, weekp],
               ok=resp(201, "Kept", "ReportSnapshot", {"Location": {"description": "Where the snapshot is", "schema": {"type": "string"}}}),
               errs=("400", "403", "404", "409"), post=True, opid="keepReportSnapshot")},
 "/v1/report-snapshots/{id}": {"get": op("A kept report, exactly as it was shown (format json, html or md)", "reports",
    [idp, P("format", "query", {"type": "string", "enum": ["json", "html", "md"], "default": "json"}, "json, html or md.")],
    ok={"200": {"description": "The snapshot", "headers": reqid, "content": {"application/json": {"schema": ref("ReportSnapshot")},
            "text/html": {"schema": {"type": "string"}}, "text/markdown": {"schema": {"type": "string"}}}}},
    errs=("400", "403", "404"), opid="getReportSnapshot")},
 "/v1/report-snapshots/{id}/recommendations": {"post": op("Record a recommendation from the meeting: a case-review note and, optionally, a task for a role", "reports",
    [idp], body="NewRecommendation", ok=resp(201, "Recorded", "Recommendation"), errs=("400", "403", "404", "409", "413", "422"), post=True, opid="recommend")},
 "/v1/patients/{id}/audit": {"get": op("Who read or changed this patient's data (the compliance role)", "audit",
                                       [idp, P("limit", "query", {"type": "integer", "minimum": 1, "maximum": 200, "default": 100}, "Page size (1-200)."), numcursor],
                                       ok=resp(200, "Audit entries, newest first", "AuditPage"), errs=("400", "403", "404"), opid="listAudit")},
})
for path, what, opid in [("/v1/measurements/{id}/entered-in-error", "a score", "measurementEnteredInError"),
                        ("/v1/trials/{id}/entered-in-error", "a trial", "trialEnteredInError"),
                        ("/v1/trials/{id}/outcome/entered-in-error", "a trial's outcome (the trial goes back to under way)", "trialOutcomeEnteredInError"),
                        ("/v1/referrals/{id}/entered-in-error", "a referral", "referralEnteredInError"),
                        ("/v1/notes/{id}/entered-in-error", "a note (its author only)", "noteEnteredInError")]:
    paths[path] = {"post": op(f"Mark {what} entered in error", "corrections", [idp], body="CorrectionBody", ok=resp(200, "Marked", "Correction"),
                              errs=("400", "403", "404", "409", "413", "422"), post=True, opid=opid,
                              desc="By whoever recorded it or a psychiatrist (a note: its author). The record stays, marked, in history and audit; rules, summaries and reports leave it out and are recomputed; the open handoffs it caused are superseded.")}
# Prior authorisation (docs/prior-authorisation.md).
SCREEN_ITEMS = ["metal-or-implanted-device", "seizure-history", "seizure-threshold-medicines", "pregnancy",
                "cardiac-or-anaesthetic-risk", "interfering-medicines"]
criterion = obj({"statement": {"type": "string"}, "is_met": {"type": "boolean"}, "evidence": {"type": "array", "items": {"type": "string"}},
                 "trial_ids": {"type": "array", "items": uuid}, "score_ids": {"type": "array", "items": uuid},
                 "to_meet": {"type": "string", "description": "When unmet: what to record to meet it."},
                 "parts": {"type": "array", "items": {"$ref": "#/components/schemas/PriorAuthCriterion"}, "description": "A group's own criteria."}},
                ["statement", "is_met", "evidence", "trial_ids", "score_ids"])
schemas.update({
 "ScreenBody": obj({"answers": {"type": "object", "propertyNames": {"enum": SCREEN_ITEMS}, "additionalProperties": {"type": "boolean"}, "maxProperties": 6,
                                "description": "Every question of the treatment's screen, true where the contraindication is present. TMS: metal-or-implanted-device, seizure-history, seizure-threshold-medicines, pregnancy. ECT: cardiac-or-anaesthetic-risk, interfering-medicines, pregnancy."},
                    "note": free(4000)}, ["answers"]),
 "Screen": obj({"screen_id": uuid, "treatment": {"type": "string", "enum": ["tms", "ect"]},
                "findings": {"type": "array", "items": {"type": "string", "enum": SCREEN_ITEMS}}, "task": ref("Task")}),
 "BirthDateBody": obj({"birth_date": {"anyOf": [req_date, {"type": "null"}], "description": "YYYY-MM-DD, or null to clear it."}}),
 "BirthDate": obj({"patient_id": uuid, "birth_date": date}, ["patient_id"]),
 "StatementBody": obj({"key": {"type": "string", "pattern": "^[a-z][a-z0-9-]{0,63}$",
                               "description": "What it is filed under: rapid-response, anaesthesia-workup, no-psychotherapy, oral-antidepressant, certified-centre, or a payer's own."},
                       "text": text(2000)}),
 "Statement": obj({"id": uuid, "patient_id": uuid, "key": {"type": "string"}}),
 "PriorAuthCriterion": criterion,
 "PriorAuthCheck": obj({"referral_id": uuid, "patient_id": uuid, "treatment": {"type": "string", "enum": ["tms", "ect", "esketamine"]},
                        "criteria_set": {"type": "string"}, "as_of": ts, "all_met": {"type": "boolean"}, "unmet": {"type": "integer", "minimum": 0},
                        "criteria": {"type": "array", "items": ref("PriorAuthCriterion")}}),
})
schemas["PriorAuthPacket"] = obj({"id": uuid, "referral_id": uuid, "patient_id": uuid,
    "status": {"type": "string", "enum": ["drafted", "submitted", "approved", "denied"]},
    "decisions": {"type": "array", "items": obj({"status": {"type": "string"}, "sessions_authorised": {"type": "integer"}, "reason": {"type": "string"}, "decided_at": ts}, ["status", "decided_at"])},
    "packet": {"type": "object", "description": "The packet as made (docs/prior-authorisation.md, \"The packet\"): made_at, made_by, criteria_set, all_met, sessions_requested, patient, referral, prescriber, medication_trials, other_courses, scores, staging, screens, documented, criteria, time_zone (the team's: the packet's days are on its calendar). No notes."}})
CRITERION_TYPES = ["failed-trials", "psychotherapy", "severity", "contraindication-screen", "minimum-age", "documented", "any-of", "all-of"]
criterion_rule = {"type": "object", "properties": {"type": {"type": "string", "enum": CRITERION_TYPES}}, "required": ["type"],
    "description": "A criterion: its type and the rule's own fields (docs/prior-authorisation.md): failed-trials {minimum_trials, minimum_classes, minimum_augmentations}; psychotherapy {allow_documented_reason}; severity {phq9_at_least, madrs_at_least, within_days}; contraindication-screen {treatment}; minimum-age {years}; documented {key, statement}; any-of and all-of {label, criteria}."}
schemas["CriteriaSetBody"] = obj({"name": text(200), "treatment": {"type": "string", "enum": ["tms", "ect", "esketamine"]},
    "sessions_requested": {"type": "integer", "minimum": 1, "maximum": 1000}, "criteria": {"type": "array", "minItems": 1, "maxItems": 50, "items": criterion_rule}},
    ["name", "treatment", "criteria"], "A payer's set; saving an existing name adds its next version. Built-in names (Default TMS, Default ECT, Default esketamine) are refused (422).")
schemas["CriteriaSet"] = obj({"name": {"type": "string"}, "treatment": {"type": "string"}, "version": {"type": "integer"}, "built_in": {"type": "boolean"},
    "sessions_requested": {"type": "integer"}, "created_at": ts, "criteria": {"type": "array", "items": criterion_rule}}, ["name", "treatment", "built_in", "criteria"])
schemas["CriteriaSetPage"] = page("CriteriaSet")
schemas["PacketBody"] = obj({"criteria_set": free(200), "include_notes": {"type": "boolean", "default": False}}, [],
    "Optional: the payer's criteria set by name (default: the treatment's built-in set); include_notes adds the team's notes (never psychotherapy notes).")
schemas["PriorAuthStatusChange"] = obj({"status": {"type": "string", "enum": ["submitted", "approved", "denied"]},
    "sessions": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "Approved: the sessions authorised (required)."},
    "reason": free(2000)}, ["status"], "drafted -> submitted -> approved (with sessions) or denied (with the payer's reason, required). Another move is 409 naming the allowed ones.")
schemas["PriorAuthMove"] = obj({"packet_id": uuid, "referral_id": uuid, "status": {"type": "string"}, "handoff_ids": {"type": "array", "items": uuid}})
schemas["PriorAuthPacketItem"] = obj({"id": uuid, "made_at": ts, "all_met": {"type": "boolean"}, "status": {"type": "string", "enum": ["drafted", "submitted", "approved", "denied"]}})
schemas["PriorAuthPacketPage"] = page("PriorAuthPacketItem")
paths.update({
 "/v1/prior-auth-packets/{id}/status": {"post": op("Move a packet's authorisation: submitted, approved (with sessions) or denied (with the payer's reason)", "prior authorisation", [idp],
    body="PriorAuthStatusChange", ok=resp(200, "Moved; a denial's handoffs (peer-to-peer review, appeal) are listed", "PriorAuthMove"),
    errs=("400", "403", "404", "409", "413", "422"), post=True, opid="movePriorAuthorisation",
    desc="Each move is an event (prior_auth.submitted, .approved, .denied); a denial makes the playbook's handoffs once. Answer a denial with a new packet.")},
 "/v1/teams/{id}/prior-auth-criteria": {
    "get": op("The team's prior-authorisation criteria sets: the built-in defaults and each payer's latest version", "prior authorisation", [idp],
              ok=resp(200, "Sets", "CriteriaSetPage"), errs=("400", "403", "404"), opid="listCriteriaSets"),
    "post": op("Add a payer's criteria set, or its next version (the team's admins)", "prior authorisation", [idp], body="CriteriaSetBody",
               ok=resp(201, "Saved", "CriteriaSet"), errs=("400", "403", "404", "409", "413", "422"), post=True, opid="saveCriteriaSet")},
 "/v1/referrals/{id}/prior-auth-packets": {"get": op("The packets made for a referral, newest first, with where each stands", "prior authorisation", [idp],
    ok=resp(200, "Packets", "PriorAuthPacketPage"), errs=("400", "403", "404"), opid="listPriorAuthPackets")},
})
paths["/v1/referrals/{id}/prior-auth-packets"]["post"] = None
paths.update({
 "/v1/referrals/{id}/prior-auth-packets": {**paths["/v1/referrals/{id}/prior-auth-packets"], "post": op("Make a prior-authorisation packet for a TMS, ECT or esketamine referral (kept as made)", "prior authorisation", [idp],
    body="PacketBody", ok=resp(201, "Made", "PriorAuthPacket", {"Location": {"description": "The packet; ?format=html or pdf renders it", "schema": {"type": "string"}}}),
    errs=("400", "403", "404", "409", "422"), post=True, opid="makePriorAuthPacket",
    desc="The team's clinicians. Minimum necessary: the patient, the referral and its prescriber, every trial (doses, weeks at an adequate dose, adherence, dates, outcome, reason stopped, scores before and after), psychotherapy and other courses, the score timeline, TRD status and stages with their inputs, the contraindication screens, documented statements, and each criterion with its evidence; no notes. Made even when criteria are unmet (all_met says so): check first with GET /v1/referrals/{id}/prior-authorisation.")},
 "/v1/prior-auth-packets/{id}": {"get": {**op("A kept packet, as JSON, a printable A4 page, or a PDF", "prior authorisation",
    [idp, P("format", "query", {"type": "string", "enum": ["json", "html", "pdf"], "default": "json"}, "json, html (self-contained, A4) or pdf (printed by headless Chromium on the server).")],
    ok={"200": {"description": "The packet", "content": {"application/json": {"schema": ref("PriorAuthPacket")}, "text/html": {"schema": {"type": "string"}},
                                                        "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}},
    errs=("400", "403", "404"), opid="getPriorAuthPacket", desc="Every read is audited. PDF needs Chromium on the server (503 without it).")}},
 "/v1/tasks/{id}/contraindication-screen": {"post": op("Complete the psychiatrist's TMS or ECT screening handoff with the contraindication checklist", "prior authorisation", [idp],
    body="ScreenBody", ok=resp(201, "Recorded; the handoff's task is completed", "Screen"), errs=("400", "403", "404", "409", "413", "422"), post=True,
    opid="completeContraindicationScreen",
    desc="Psychiatrists only. The task must be the handoff a TMS referral (tms.contraindications) or an ECT referral (ect.workup) made; every question of that treatment's screen must be answered (422 names the missing ones).")},
 "/v1/patients/{id}/birth-date": {"put": op("Record (or clear) a patient's date of birth, which payers' age criteria read", "prior authorisation", [idp],
    body="BirthDateBody", ok=resp(200, "Recorded", "BirthDate"), errs=("400", "403", "404", "413", "422"), opid="setBirthDate")},
 "/v1/patients/{id}/prior-auth-statements": {"post": op("Document a statement for a payer (a need for a rapid response, the anaesthesia work-up, why no psychotherapy was possible)", "prior authorisation", [idp],
    body="StatementBody", ok=resp(201, "Recorded", "Statement"), errs=("400", "403", "404", "413", "422"), post=True, opid="documentForPriorAuth",
    desc="The latest statement of a key is the one the criteria read.")},
 "/v1/referrals/{id}/prior-authorisation": {"get": op("A TMS, ECT or esketamine referral against the payer's criteria: each met or not, its evidence, and what to record", "prior authorisation",
    [idp, P("criteria_set", "query", free(200), "A payer's set by name (GET /v1/teams/{id}/prior-auth-criteria); default: the treatment's built-in set. An unknown one, or one for another treatment, is 422.")],
    ok=resp(200, "The check", "PriorAuthCheck"), errs=("400", "403", "404", "422"), opid="checkPriorAuthorisation",
    desc="Evaluated now against the default criteria set of the referral's kind (docs/prior-authorisation.md); an `other` referral has none (422). Audited as a read of the patient.")},
})
import copy
def nullable_optionals(schema):
    """Optional request fields may be sent as null, which means the same as leaving them out."""
    if "oneOf" in schema:
        for s in schema["oneOf"]: nullable_optionals(s)
    props = schema.get("properties", {})
    for name, p in props.items():
        if name in schema.get("required", []) or "const" in p: continue
        if "$ref" in p: continue
        props[name] = {"anyOf": [copy.deepcopy(p), {"type": "null"}]}
for name in ["NewRecommendation", "NewWebhook", "NewMember", "NewTask", "TaskAction", "NewNote", "NewMeasurement", "NewTrial", "NewTrialOutcome", "NewReferral",
             "Reassignment", "ReferralStatusChange", "ScreenBody"]:
    nullable_optionals(schemas[name])
doc = {
 "openapi": "3.1.0",
 "info": {"title": "CareRelay", "version": "1.0.0",
          "description": "Care-team coordination for treatment-resistant depression: patients, care plans, tasks, notes, scores, trials, referrals, handoffs and the audit trail. "
                         "JSON with snake_case fields; ids are UUIDs; timestamps RFC 3339 UTC; dates YYYY-MM-DD. Errors are RFC 9457 problem+json with a stable `type`. "
                         "Every response carries X-Request-Id. Lists page with `limit` (up to 200) and an opaque `cursor`. POSTs accept Idempotency-Key."},
 "servers": [{"url": "/"}],
 "security": [{"bearer": []}],
 "paths": paths,
 "components": {"schemas": schemas, "responses": responses,
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "A token `crt_...` from `care-server admin create-token` or create-member."}}},
}
print(json.dumps(doc, indent=1, sort_keys=False))

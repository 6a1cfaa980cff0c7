#!/usr/bin/env python3
"""Checks what care-server's FHIR API serves against an independent FHIR R4 (4.0.1) model:
fhir.resources 5.1.1 from PyPI (models generated from the R4 specification, strict: an unknown
element, a wrong type, a missing required element or a malformed date is an error). Run by
deploy/fhir-check, which starts a server with the demo team and a synthetic caseload.

  fhir_check.py BASE_URL COMPLIANCE_TOKEN TOKEN[,EXPORTER] [TOKEN[,EXPORTER] ...]

(the compliance member's token reads AuditEvents of the last TOKEN's patients; the others,
clinicians, must be refused them. An EXPORTER, a service account with the export scope on the
same team as TOKEN, bulk-exports the team: every NDJSON line must parse as R4, and the export
must hold exactly the patients TOKEN's search finds)

For each token: every page of its Patient search, each patient read, and for every resource
type the CapabilityStatement searches by patient, every page of each patient's search and
reads of its first resources; the CapabilityStatement; an OperationOutcome. Every resource and every Bundle must parse as R4, and each Bundle's entries
must be what the search asked for. Exits 1 naming what failed.
"""

import json
import sys
import time
import urllib.error
import urllib.request
from collections import Counter

from fhir.resources.fhirelementfactory import FHIRElementFactory

failures = []
checked = Counter()


def get(base, path, token=None):
    return send(urllib.request.Request(path if path.startswith("http") else base + path), token)


def send(request, token):
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers.get("Content-Type", ""), json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), json.load(error)


def valid(what, body, content_type):
    if not content_type.startswith("application/fhir+json"):
        failures.append(f"{what}: Content-Type {content_type}")
    try:
        FHIRElementFactory.instantiate(body["resourceType"], body)
    except Exception as error:  # FHIRValidationError, or a missing resourceType
        failures.append(f"{what}: not valid R4: {error}")
        return False
    checked[body["resourceType"]] += 1
    if body["resourceType"] == "Bundle":
        for entry in body.get("entry", []):
            checked[entry["resource"]["resourceType"]] += 1
    return True


def post(base, path, token, body):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/fhir+json")
    return send(request, token)


def writes(base, token, patient):
    """A PHQ-9 as an Observation and a GAD-7 as a QuestionnaireResponse: what is sent is valid
    R4 (so the documented input is real FHIR), and so is what comes back."""
    items = ["44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8"]
    observation = {
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "44249-1"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": code}]}, "valueInteger": 1}
                      for code in items],
    }
    questionnaire = {
        "resourceType": "QuestionnaireResponse", "status": "completed",
        "questionnaire": "http://loinc.org/q/69737-5", "subject": {"reference": f"Patient/{patient}"},
        "item": [{"linkId": str(n), "answer": [{"valueCoding": {"system": "http://loinc.org", "code": "LA6570-1"}}]}
                 for n in range(1, 8)],
    }
    for sent in [observation, questionnaire]:
        kind = sent["resourceType"]
        try:
            FHIRElementFactory.instantiate(kind, sent)
        except Exception as error:
            failures.append(f"the {kind} fhir_check.py sends is not valid R4: {error}")
        status, content_type, body = post(base, f"/{kind}", token, sent)
        if status != 201:
            failures.append(f"POST {kind}: {status} {body}")
        elif valid(f"POST {kind}'s answer", body, content_type) and body["resourceType"] != "Observation":
            failures.append(f"POST {kind}: answered a {body['resourceType']}, not the Observation recorded")


def pages(base, path, token, what):
    """Every resource of a search, page by page through the next links."""
    resources, url, seen = [], path, set()
    while url:
        if url in seen:
            failures.append(f"{what}: the next link loops back to {url}")
            break
        seen.add(url)
        status, content_type, body = get(base, url, token)
        if status != 200 or not valid(f"{what} page", body, content_type):
            failures.append(f"{what}: {status} {body}")
            break
        if body.get("type") != "searchset":
            failures.append(f"{what}: Bundle.type {body.get('type')}")
        resources += [entry["resource"] for entry in body.get("entry", [])]
        url = next((link["url"] for link in body.get("link", []) if link["relation"] == "next"), None)
    return resources


def bulk_export(base, exporter, clinician, patients):
    """Patient/$export end to end (Bulk Data 2.0): kick-off, polling, manifest, every line."""
    def kick_off(token):
        request = urllib.request.Request(base + "/Patient/$export")
        request.add_header("Prefer", "respond-async")
        request.add_header("Accept", "application/fhir+json")
        request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.headers, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, error.headers, json.load(error)

    status, headers, body = kick_off(clinician)
    if status != 403 or body.get("resourceType") != "OperationOutcome":
        failures.append(f"Patient/$export by a clinician: {status}, not 403")
    status, headers, body = kick_off(exporter)
    if status != 202 or not headers.get("Content-Location"):
        failures.append(f"Patient/$export: {status} {body}")
        return
    location = headers["Content-Location"]
    deadline = time.monotonic() + 300
    while True:
        request = urllib.request.Request(location)
        request.add_header("Authorization", f"Bearer {exporter}")
        with urllib.request.urlopen(request, timeout=60) as response:
            if response.status == 200:
                manifest = json.load(response)
                break
            if response.status != 202 or not response.headers.get("X-Progress"):
                failures.append(f"export status: {response.status}, X-Progress {response.headers.get('X-Progress')}")
                return
        if time.monotonic() > deadline:
            failures.append("export: not complete after 300 s")
            return
        time.sleep(0.5)
    for key in ["transactionTime", "request", "requiresAccessToken", "output"]:
        if key not in manifest:
            failures.append(f"export manifest: no {key}")
    exported = Counter()
    patient_ids = set()
    for output in manifest.get("output", []):
        request = urllib.request.Request(output["url"])
        request.add_header("Authorization", f"Bearer {exporter}")
        with urllib.request.urlopen(request, timeout=60) as response:
            if response.headers.get("Content-Type") != "application/fhir+ndjson":
                failures.append(f"export file {output['url']}: Content-Type {response.headers.get('Content-Type')}")
            lines = response.read().decode().splitlines()
        if len(lines) != output["count"]:
            failures.append(f"export file {output['url']}: {len(lines)} lines, the manifest says {output['count']}")
        for number, line in enumerate(lines, 1):
            resource = json.loads(line)
            where = f"export file {output['url']} line {number}"
            if resource.get("resourceType") != output["type"]:
                failures.append(f"{where}: a {resource.get('resourceType')} in a {output['type']} file")
            try:
                FHIRElementFactory.instantiate(resource["resourceType"], resource)
            except Exception as error:
                failures.append(f"{where}: not valid R4: {error}")
                continue
            exported[resource["resourceType"]] += 1
            checked["NDJSON " + resource["resourceType"]] += 1
            if resource["resourceType"] == "Patient":
                patient_ids.add(resource["id"])
            if resource["resourceType"] == "DocumentReference" and "psychotherapy" in [
                    c.get("code") for c in resource["type"].get("coding", [])]:
                failures.append(f"{where}: a psychotherapy note was exported")
    if patient_ids != {patient["id"] for patient in patients}:
        failures.append(f"export: {len(patient_ids)} patients, the clinician's search finds {len(patients)}")
    for kind in ["Patient", "CareTeam", "CarePlan", "Observation", "MedicationStatement", "Task"]:
        if exported[kind] == 0:
            failures.append(f"export: no {kind} exported")
    request = urllib.request.Request(location, method="DELETE")
    request.add_header("Authorization", f"Bearer {exporter}")
    with urllib.request.urlopen(request, timeout=60) as response:
        if response.status != 202:
            failures.append(f"DELETE of the export: {response.status}")


def main():
    base, compliance = sys.argv[1].rstrip("/"), sys.argv[2]
    pairs = [argument.split(",") for argument in sys.argv[3:]]
    tokens = [pair[0] for pair in pairs]
    exporters = {pair[0]: pair[1] for pair in pairs if len(pair) > 1}
    status, content_type, statement = get(base, "/metadata")
    if status != 200:
        failures.append(f"metadata: {status}")
    valid("CapabilityStatement", statement, content_type)
    status, content_type, outcome = get(base, "/Patient/not-an-id", tokens[0])
    if status != 404 or outcome.get("resourceType") != "OperationOutcome":
        failures.append(f"Patient/not-an-id: {status} {outcome}")
    valid("OperationOutcome", outcome, content_type)

    # Every resource type the CapabilityStatement says can be searched by patient is.
    by_patient = [
        resource["type"] for resource in statement["rest"][0]["resource"]
        if any(parameter["name"] == "patient" for parameter in resource.get("searchParam", []))
        and resource["type"] != "AuditEvent"
    ]
    readable = {
        resource["type"] for resource in statement["rest"][0]["resource"]
        if any(interaction["code"] == "read" for interaction in resource.get("interaction", []))
    }
    for token in tokens:
        patients = pages(base, "/Patient?_count=37", token, "Patient search")
        if patients:
            writes(base, token, patients[0]["id"])
        ids = [patient["id"] for patient in patients]
        if len(ids) != len(set(ids)):
            failures.append("Patient search: a patient on two pages")
        if token in exporters:
            bulk_export(base, exporters[token], token, patients)
        for patient in patients[:10]:
            status, content_type, body = get(base, f"/Patient/{patient['id']}/$everything", token)
            if status != 200 or not valid(f"Patient/{patient['id']}/$everything", body, content_type):
                failures.append(f"Patient/{patient['id']}/$everything: {status}")
            elif body["entry"][0]["resource"] != patient:
                failures.append(f"Patient/{patient['id']}/$everything: the patient is not its first entry")
        for patient in patients[:60]:
            status, content_type, body = get(base, f"/Patient/{patient['id']}", token)
            if status != 200 or body != patient:
                failures.append(f"Patient/{patient['id']}: {status}, or not what the search gave")
            valid(f"Patient/{patient['id']}", body, content_type)
            for kind in by_patient:
                found = pages(base, f"/{kind}?patient=Patient/{patient['id']}&_count=20", token,
                              f"{kind} search of {patient['id']}")
                for resource in found:
                    if kind in ("CareTeam", "Provenance"):  # a team; an event's targets
                        continue
                    subject = resource.get("subject", resource.get("for", {})).get("reference")
                    if subject != f"Patient/{patient['id']}":
                        failures.append(f"{kind}/{resource['id']}: another patient's, in {patient['id']}'s search")
                if kind == "DocumentReference":
                    for resource in found:
                        codes = [c.get("code") for c in resource["type"].get("coding", [])]
                        if "psychotherapy" in codes:
                            failures.append(f"DocumentReference/{resource['id']}: a psychotherapy note was served")
                # References to other records resolve (a handoff's cause, a provenance's targets).
                for resource in found[:5]:
                    references = [resource.get("focus"), resource.get("reasonReference")] + resource.get("target", [])
                    for reference in [r["reference"] for r in references if r and "reference" in r]:
                        if reference.split("/")[0] in readable:
                            status, _, _ = get(base, f"/{reference}", token)
                            if status != 200:
                                failures.append(f"{kind}/{resource['id']} refers to {reference}, which answers {status}")
                for resource in found[:3] if kind in readable else []:
                    status, content_type, body = get(base, f"/{kind}/{resource['id']}", token)
                    if status != 200 or body != resource:
                        failures.append(f"{kind}/{resource['id']}: {status}, or not what the search gave")
                    valid(f"{kind}/{resource['id']}", body, content_type)

    # The audit trail: the compliance role's, refused to clinicians.
    for patient in patients[:10]:
        status, content_type, body = get(base, f"/AuditEvent?patient={patient['id']}", tokens[-1])
        if status != 403 or body.get("resourceType") != "OperationOutcome":
            failures.append(f"AuditEvent of {patient['id']} for a clinician: {status}, not 403")
        events = pages(base, f"/AuditEvent?patient={patient['id']}&_count=25", compliance,
                       f"AuditEvent search of {patient['id']}")
        if not events:
            failures.append(f"AuditEvent search of {patient['id']}: empty, though the check itself read the patient")
        for event in events[:2]:
            status, content_type, body = get(base, f"/AuditEvent/{event['id']}", compliance)
            if status != 200 or body != event:
                failures.append(f"AuditEvent/{event['id']}: {status}, or not what the search gave")
            valid(f"AuditEvent/{event['id']}", body, content_type)

    print("FHIR R4 (fhir.resources): " + ", ".join(f"{count} {kind}" for kind, count in sorted(checked.items())),
          file=sys.stderr)
    for kind in ["Patient", "AuditEvent"] + by_patient:
        if checked[kind] == 0:
            failures.append(f"nothing to check: no {kind} was served")
    if failures:
        print("\n".join(failures[:50]), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

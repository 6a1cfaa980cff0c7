import Foundation

/// FHIR resources written by hand where BENCHMARKS.md ("bench/fhir") shows Foundation's
/// JSONEncoder was most of the cost: the Observation (a search answers 50 of them, a bulk export
/// hundreds of thousands) and the Bundle that carries them. Each is the same document as its
/// Codable encoding with sorted keys (FHIRTests holds them together); every other resource goes
/// through the encoder.
extension FHIR.Observation: JSONWritable {
    func write(to json: inout JSONWriter) {
        json.object { json in
            json.member("category") { $0.array(category) { $0.codeableConcept($1) } }
            json.member("code") { $0.codeableConcept(code) }
            json.member("component") {
                $0.array(component) { json, component in
                    json.object { json in
                        json.member("code") { $0.codeableConcept(component.code) }
                        json.optional("interpretation", component.interpretation) {
                            $0.array($1) { $0.codeableConcept($1) }
                        }
                        json.member("valueInteger") { $0.int(component.valueInteger) }
                    }
                }
            }
            json.member("effectiveDateTime") { $0.string(effectiveDateTime) }
            json.member("id") { $0.string(id) }
            json.optional("interpretation", interpretation) { $0.array($1) { $0.codeableConcept($1) } }
            json.optional("meta", meta) { $0.meta($1) }
            json.optional("note", note) {
                $0.array($1) { json, note in json.object { $0.member("text") { $0.string(note.text) } } }
            }
            json.member("resourceType") { $0.string(resourceType) }
            json.member("status") { $0.string(status) }
            json.member("subject") { $0.reference(subject) }
        }
    }
}

extension FHIR.Bundle: JSONWritable where Resource: JSONWritable {
    func write(to json: inout JSONWriter) {
        json.object { json in
            json.member("entry") {
                $0.array(count: resources.count) { json, index in
                    json.object { json in
                        json.member("fullUrl") { $0.string(base, paths[index]) }
                        json.member("resource") { resources[index].write(to: &$0) }
                        json.member("search") { $0.raw(#"{"mode":"match"}"#) }
                    }
                }
            }
            json.member("link") {
                $0.array(link) { json, link in
                    json.object { json in
                        json.member("relation") { $0.string(link.relation) }
                        json.member("url") { $0.string(link.url) }
                    }
                }
            }
            json.member("resourceType") { $0.string(resourceType) }
            json.member("type") { $0.string(type) }
        }
    }
}

/// A Bundle of several types ($everything): each resource by hand where it has a writer.
extension FHIR.AnyResource: JSONWritable {
    func write(to json: inout JSONWriter) {
        if let writable = resource as? any JSONWritable {
            writable.write(to: &json)
        } else {
            // The encoder fails only for values it cannot represent (NaN): none is built here.
            json.raw(bytes: (try? FHIRController.encoded(resource)) ?? Array("{}".utf8))
        }
    }
}

extension JSONWriter {
    mutating func codeableConcept(_ concept: FHIR.CodeableConcept) {
        object { json in
            json.optional("coding", concept.coding) { json, codings in
                json.array(codings) { json, coding in
                    json.object { json in
                        json.optional("code", coding.code) { $0.string($1) }
                        json.optional("display", coding.display) { $0.string($1) }
                        json.optional("system", coding.system) { $0.string($1) }
                    }
                }
            }
            json.optional("text", concept.text) { $0.string($1) }
        }
    }

    mutating func reference(_ reference: FHIR.Reference) {
        object { json in
            json.optional("display", reference.display) { $0.string($1) }
            json.optional("reference", reference.reference) { $0.string($1) }
        }
    }

    mutating func meta(_ meta: FHIR.Meta) {
        object { json in
            json.optional("lastUpdated", meta.lastUpdated) { $0.string($1) }
            json.optional("versionId", meta.versionId) { $0.string($1) }
        }
    }
}

// MARK: The other resources ($everything and the bulk export write thousands of each)

extension FHIR.Patient: JSONWritable {
    func write(to json: inout JSONWriter) {
        json.object { json in
            json.member("active") { $0.bool(active) }
            json.optional("extension", `extension`) {
                $0.array($1) { json, item in
                    json.object { json in
                        json.member("url") { $0.string(item.url) }
                        json.optional("valueCode", item.valueCode) { $0.string($1) }
                        json.optional("valueDate", item.valueDate) { $0.string($1) }
                    }
                }
            }
            json.member("id") { $0.string(id) }
            json.member("identifier") { $0.array(identifier) { $0.identifier($1) } }
            json.optional("meta", meta) { $0.meta($1) }
            json.member("name") {
                $0.array(name) { json, name in json.object { $0.optional("text", name.text) { $0.string($1) } } }
            }
            json.member("resourceType") { $0.string(resourceType) }
        }
    }
}

extension FHIR.MedicationStatement: JSONWritable {
    func write(to json: inout JSONWriter) {
        json.object { json in
            json.member("category") { $0.codeableConcept(category) }
            json.optional("dosage", dosage) { $0.array($1) { $0.dosage($1) } }
            json.member("effectivePeriod") { $0.period(effectivePeriod) }
            json.optional("extension", `extension`) { $0.array($1) { $0.valueExtension($1) } }
            json.member("id") { $0.string(id) }
            json.member("medicationCodeableConcept") { $0.codeableConcept(medicationCodeableConcept) }
            json.optional("meta", meta) { $0.meta($1) }
            json.optional("note", note) { $0.annotations($1) }
            json.member("resourceType") { $0.string(resourceType) }
            json.member("status") { $0.string(status) }
            json.member("subject") { $0.reference(subject) }
        }
    }
}

extension FHIR.Procedure: JSONWritable {
    func write(to json: inout JSONWriter) {
        json.object { json in
            json.member("category") { $0.codeableConcept(category) }
            json.member("code") { $0.codeableConcept(code) }
            json.optional("extension", `extension`) { $0.array($1) { $0.valueExtension($1) } }
            json.member("id") { $0.string(id) }
            json.optional("meta", meta) { $0.meta($1) }
            json.optional("note", note) { $0.annotations($1) }
            json.optional("outcome", outcome) { $0.codeableConcept($1) }
            json.member("performedPeriod") { $0.period(performedPeriod) }
            json.member("resourceType") { $0.string(resourceType) }
            json.member("status") { $0.string(status) }
            json.member("subject") { $0.reference(subject) }
        }
    }
}

extension FHIR.ServiceRequest: JSONWritable {
    func write(to json: inout JSONWriter) {
        json.object { json in
            json.member("authoredOn") { $0.string(authoredOn) }
            json.member("code") { $0.codeableConcept(code) }
            json.optional("extension", `extension`) { $0.array($1) { $0.valueExtension($1) } }
            json.member("id") { $0.string(id) }
            json.member("intent") { $0.string(intent) }
            json.optional("meta", meta) { $0.meta($1) }
            json.optional("note", note) { $0.annotations($1) }
            json.optional("performer", performer) { $0.array($1) { $0.reference($1) } }
            json.optional("reasonCode", reasonCode) { $0.array($1) { $0.codeableConcept($1) } }
            json.member("resourceType") { $0.string(resourceType) }
            json.member("status") { $0.string(status) }
            json.member("subject") { $0.reference(subject) }
        }
    }
}

extension FHIR.Task: JSONWritable {
    func write(to json: inout JSONWriter) {
        json.object { json in
            json.optional("code", code) { $0.codeableConcept($1) }
            json.member("description") { $0.string(description) }
            json.optional("focus", focus) { $0.reference($1) }
            json.member("for") { $0.reference(`for`) }
            json.member("id") { $0.string(id) }
            json.member("intent") { $0.string(intent) }
            json.optional("meta", meta) { $0.meta($1) }
            json.optional("note", note) { $0.annotations($1) }
            json.optional("owner", owner) { $0.logicalReference($1) }
            json.optional("performerType", performerType) { $0.array($1) { $0.codeableConcept($1) } }
            json.member("priority") { $0.string(priority) }
            json.optional("reasonCode", reasonCode) { $0.codeableConcept($1) }
            json.optional("reasonReference", reasonReference) { $0.reference($1) }
            json.member("resourceType") { $0.string(resourceType) }
            json.optional("restriction", restriction) { json, restriction in
                json.object { json in json.member("period") { $0.period(restriction.period) } }
            }
            json.member("status") { $0.string(status) }
            json.optional("statusReason", statusReason) { $0.codeableConcept($1) }
        }
    }
}

extension FHIR.CareTeam: JSONWritable {
    func write(to json: inout JSONWriter) {
        json.object { json in
            json.member("id") { $0.string(id) }
            json.member("name") { $0.string(name) }
            json.member("participant") {
                $0.array(participant) { json, participant in
                    json.object { json in
                        json.member("member") { $0.logicalReference(participant.member) }
                        json.member("role") { $0.array(participant.role) { $0.codeableConcept($1) } }
                    }
                }
            }
            json.member("resourceType") { $0.string(resourceType) }
            json.member("status") { $0.string(status) }
        }
    }
}

extension FHIR.CarePlan: JSONWritable {
    func write(to json: inout JSONWriter) {
        json.object { json in
            json.optional("activity", activity) {
                $0.array($1) { json, activity in
                    json.object { json in json.member("reference") { $0.reference(activity.reference) } }
                }
            }
            json.optional("author", author) { $0.logicalReference($1) }
            json.member("created") { $0.string(created) }
            json.optional("description", description) { $0.string($1) }
            json.member("id") { $0.string(id) }
            json.member("intent") { $0.string(intent) }
            json.member("meta") { $0.meta(meta) }
            json.optional("note", note) { $0.annotations($1) }
            json.member("resourceType") { $0.string(resourceType) }
            json.member("status") { $0.string(status) }
            json.member("subject") { $0.reference(subject) }
            json.member("title") { $0.string(title) }
        }
    }
}

extension FHIR.DocumentReference: JSONWritable {
    func write(to json: inout JSONWriter) {
        json.object { json in
            json.member("author") { $0.array(author) { $0.logicalReference($1) } }
            json.member("content") {
                $0.array(content) { json, content in
                    json.object { json in
                        json.member("attachment") { json in
                            json.object { json in
                                json.member("contentType") { $0.string(content.attachment.contentType) }
                                json.member("data") { $0.string(content.attachment.data) }
                            }
                        }
                    }
                }
            }
            json.member("date") { $0.string(date) }
            json.member("docStatus") { $0.string(docStatus) }
            json.member("id") { $0.string(id) }
            json.optional("meta", meta) { $0.meta($1) }
            json.optional("relatesTo", relatesTo) {
                $0.array($1) { json, relation in
                    json.object { json in
                        json.member("code") { $0.string(relation.code) }
                        json.member("target") { $0.reference(relation.target) }
                    }
                }
            }
            json.member("resourceType") { $0.string(resourceType) }
            json.member("status") { $0.string(status) }
            json.member("subject") { $0.reference(subject) }
            json.member("type") { $0.codeableConcept(type) }
        }
    }
}

extension JSONWriter {
    mutating func annotations(_ notes: [FHIR.Annotation]) {
        array(notes) { json, note in json.object { $0.member("text") { $0.string(note.text) } } }
    }

    mutating func period(_ period: FHIR.Period) {
        object { json in
            json.optional("end", period.end) { $0.string($1) }
            json.optional("start", period.start) { $0.string($1) }
        }
    }

    mutating func identifier(_ identifier: FHIR.Identifier) {
        object { json in
            json.optional("system", identifier.system) { $0.string($1) }
            json.optional("use", identifier.use) { $0.string($1) }
            json.optional("value", identifier.value) { $0.string($1) }
        }
    }

    mutating func logicalReference(_ reference: FHIR.LogicalReference) {
        object { json in
            json.optional("display", reference.display) { $0.string($1) }
            json.member("identifier") { $0.identifier(reference.identifier) }
        }
    }

    mutating func valueExtension(_ item: FHIR.ValueExtension) {
        object { json in
            json.member("url") { $0.string(item.url) }
            json.optional("valueBoolean", item.valueBoolean) { $0.bool($1) }
            json.optional("valueCode", item.valueCode) { $0.string($1) }
            json.optional("valueDate", item.valueDate) { $0.string($1) }
            json.optional("valueDecimal", item.valueDecimal) { $0.number($1) }
        }
    }

    mutating func dosage(_ dosage: FHIR.Dosage) {
        object { json in
            json.member("doseAndRate") {
                $0.array(dosage.doseAndRate) { json, rate in
                    json.object { json in
                        json.member("doseQuantity") { json in
                            json.object { json in
                                json.member("code") { $0.string(rate.doseQuantity.code) }
                                json.member("system") { $0.string(rate.doseQuantity.system) }
                                json.member("unit") { $0.string(rate.doseQuantity.unit) }
                                json.member("value") { $0.number(rate.doseQuantity.value) }
                            }
                        }
                    }
                }
            }
            json.member("sequence") { $0.int(dosage.sequence) }
            json.member("text") { $0.string(dosage.text) }
            json.member("timing") { json in
                json.object { json in
                    json.member("repeat") { json in
                        json.object { json in
                            let rule = dosage.timing.repeat
                            json.member("boundsPeriod") { $0.period(rule.boundsPeriod) }
                            json.member("frequency") { $0.int(rule.frequency) }
                            json.member("period") { $0.int(rule.period) }
                            json.member("periodUnit") { $0.string(rule.periodUnit) }
                        }
                    }
                }
            }
        }
    }

    /// A number as JSONEncoder writes a Double: whole numbers without a fraction.
    mutating func number(_ value: Double) {
        if value == value.rounded(), abs(value) < 1e15 { int(Int(value)) } else { double(value) }
    }
}

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
            json.optional("note", note) { $0.array($1) { json, note in json.object { $0.member("text") { $0.string(note.text) } } } }
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
                $0.array(entry) { json, entry in
                    json.object { json in
                        json.member("fullUrl") { $0.string(entry.fullUrl) }
                        json.member("resource") { entry.resource.write(to: &$0) }
                        json.member("search") { json in
                            json.object { json in json.member("mode") { $0.string(entry.search.mode) } }
                        }
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

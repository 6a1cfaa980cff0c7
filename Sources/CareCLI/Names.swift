import CareClient
import Foundation

/// Naming things the way people do (docs/cli.md): a patient by part of their name, their MRN or
/// the first characters of their id; a task, handoff, trial, referral, note, score or snapshot by
/// the first characters of its id (tables show 8). The server resolves them within the caller's
/// own teams. One match is used; none is "not found" (exit 3); several are listed (exit 2).
enum Names {
    /// The id of the patient `text` names.
    static func patient(_ text: String, _ client: CareClient) async throws -> String {
        let typed = text.trimmingCharacters(in: .whitespaces)
        if let id = UUID(uuidString: typed) { return id.uuidString.lowercased() }
        guard !typed.isEmpty else { throw CLIError.usage("name the patient: part of the name, the MRN or the id") }
        let found = try await client.patients(search: typed)
        let lowered = typed.lowercased()
        // An exact MRN, an exact name, a whole word of a name ('Lind' is Casey Lind, not Linda
        // Park) or an id's start picks one among several partial matches.
        for exact in [
            found.filter { $0.mrn.lowercased() == lowered }, found.filter { $0.displayName.lowercased() == lowered },
            found.filter { words($0.displayName).contains(lowered) }, found.filter { $0.id.hasPrefix(lowered) },
        ] where exact.count == 1 {
            return exact[0].id
        }
        if found.count == 1 { return found[0].id }
        if found.isEmpty {
            throw CLIError.notFound("no patient of your teams matches '\(typed)' (by name, MRN or id)")
        }
        let listed = found.prefix(8).map { "\($0.displayName) (MRN \($0.mrn), \(short($0.id)))" }
        throw CLIError.ambiguous(
            "'\(typed)' matches \(found.count) patients: \(listed.joined(separator: "; "))"
                + (found.count > 8 ? "; …" : "") + ". Give more of the name, the MRN or the id")
    }

    /// The id of the record of `kind` (task, trial, referral, note, measurement, snapshot) that
    /// `text` names; `what` is how a person calls it ("handoff", "score").
    static func record(_ kind: String, _ text: String, _ client: CareClient, what: String? = nil) async throws
        -> String
    {
        let typed = text.trimmingCharacters(in: .whitespaces)
        let what = what ?? kind
        if let id = UUID(uuidString: typed) { return id.uuidString.lowercased() }
        guard typed.count >= 4, typed.allSatisfy({ $0.isHexDigit || $0 == "-" }) else {
            throw CLIError.usage(
                "'\(typed)' is not a \(what) id: give the 8 characters the tables show, or more")
        }
        let found = try await client.resolve(kind: kind, prefix: typed)
        if found.count == 1 { return found[0].id }
        if found.isEmpty { throw CLIError.notFound("no \(what) of your teams has an id starting '\(typed)'") }
        let listed = found.map { "\(short($0.id)) \($0.label)" }
        throw CLIError.ambiguous(
            "'\(typed)' starts \(found.count) \(what) ids: \(listed.joined(separator: "; ")). Give more characters")
    }

    /// The ids of the records `texts` name, all resolved before the caller acts on any (so one
    /// that matches nothing, or several, stops the command with nothing done).
    static func records(_ kind: String, _ texts: [String], _ client: CareClient, what: String? = nil) async throws
        -> [String]
    {
        var ids: [String] = []
        for text in texts { ids.append(try await record(kind, text, client, what: what)) }
        return ids
    }

    /// A name's words, in lower case: one of them typed whole picks a person among several
    /// partial matches ("Lind" is Casey Lind, not Linda Park).
    static func words(_ name: String) -> [String] {
        name.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber && $0 != "'" }).map(String.init)
    }

    /// The 8 characters tables show.
    static func short(_ id: String) -> String { String(id.prefix(8)) }

    /// The caller's patients' names by id, for tables that list work across patients.
    static func patientNames(_ client: CareClient) async throws -> [String: String] {
        Dictionary(
            try await client.patients(search: nil).map { ($0.id, $0.displayName) },
            uniquingKeysWith: { first, _ in first })
    }

    /// The summary of the patient `text` names.
    static func summary(_ text: String, _ client: CareClient) async throws -> Summary {
        try await client.patient(try await patient(text, client))
    }

    /// A role as people write it: "social worker".
    static func role(_ name: String) -> String { name.replacingOccurrences(of: "_", with: " ") }
}

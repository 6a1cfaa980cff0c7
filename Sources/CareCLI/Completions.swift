import ArgumentParser
import CareClient
import CareDomain
import Dispatch
import Foundation
import Synchronization

/// Shell completion that knows the domain (docs/cli.md, "Completion"): patients by the words of
/// their names and their MRNs (asked of the server, as the profile in use), roles, priorities,
/// kinds, outcomes, statuses, formats and the dose table's drugs.
enum Completions {
    /// The words of the caller's patients' names, and their MRNs, that start with what is typed.
    /// A name's words, not the whole name: a completed word is one shell word, and a part of a
    /// name is enough to name a patient. Gives up quietly after 2 seconds.
    @Sendable static func patients(_ words: [String], _ index: Int, _ prefix: String) -> [String] {
        let found = Mutex<[String]>([])
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            defer { done.signal() }
            guard let connection = try? Connection.resolve(profile: nil), connection.token != nil else { return }
            let client = CareClient(
                server: connection.server, token: connection.token, timeout: .seconds(2), attempts: 1)
            let patients = (try? await client.patients(search: prefix.isEmpty ? nil : prefix, limit: 200)) ?? []
            await client.shutdown()
            let typed = prefix.lowercased()
            var candidates = Set<String>()
            for patient in patients {
                for word in patient.displayName.split(separator: " ").map(String.init) + [patient.mrn]
                where word.lowercased().hasPrefix(typed) {
                    candidates.insert(word)
                }
            }
            found.withLock { $0 = candidates.sorted() }
        }
        _ = done.wait(timeout: .now() + 3)
        return found.withLock { $0 }
    }

    static func names<T: NamedValues>(_ type: T.Type, among: [T]? = nil) -> CompletionKind {
        .list((among ?? Array(T.allCases)).map(\.rawValue))
    }

    static let clinicalRoles = names(Role.self, among: Role.allCases.filter(\.isClinical))
    static let drugs = CompletionKind.list(DoseTable.default.entries.map(\.drug).sorted())
    static let formats = CompletionKind.list(["md", "html", "json", "csv"])
}

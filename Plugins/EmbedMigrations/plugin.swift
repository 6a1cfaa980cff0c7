import Foundation
import PackagePlugin

/// Turns files into a Swift source file in the target, so that the built binary carries them:
/// sql/migrations/*.sql for CareStore (the exact migrations, checksums included),
/// docs/openapi.json for CareAPI (the document /openapi.json serves), and sql/seed/*.sql for
/// CareServer (the synthetic caseload of `care-server admin seed-synthetic`).
@main
struct EmbedMigrations: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let (folder, fileExtension, variable) =
            switch target.name {
            case "CareAPI": ("docs", "json", "embeddedDocuments")
            case "CareServer": ("sql/seed", "sql", "embeddedSeedFiles")
            default: ("sql/migrations", "sql", "embeddedMigrationFiles")
            }
        let directory = context.package.directoryURL.appending(path: folder)
        let files =
            (try? FileManager.default.contentsOfDirectory(
                at: directory, includingPropertiesForKeys: nil
            )) ?? []
        let inputs = files.filter { $0.pathExtension == fileExtension }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "Embedded-\(variable).swift")
        return [
            .buildCommand(
                displayName: "Embedding \(inputs.count) files from \(folder)",
                executable: try context.tool(named: "embed-migrations").url,
                arguments: [output.path(percentEncoded: false), variable]
                    + inputs.map { $0.path(percentEncoded: false) },
                inputFiles: inputs + [directory],
                outputFiles: [output]
            )
        ]
    }
}

import Foundation
import PackagePlugin

/// Turns sql/migrations/*.sql into a Swift source file in the target, so that the built
/// binary carries the exact migrations it was built with (checksums included).
@main
struct EmbedMigrations: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let directory = context.package.directoryURL.appending(path: "sql/migrations")
        let files = (try? FileManager.default.contentsOfDirectory(
            at: directory, includingPropertiesForKeys: nil
        )) ?? []
        let inputs = files.filter { $0.pathExtension == "sql" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedMigrations.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(inputs.count) migrations from sql/migrations",
                executable: try context.tool(named: "embed-migrations").url,
                arguments: [output.path(percentEncoded: false)] + inputs.map { $0.path(percentEncoded: false) },
                inputFiles: inputs + [directory],
                outputFiles: [output]
            )
        ]
    }
}

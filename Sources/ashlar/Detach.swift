import ArgumentParser
import Foundation

/// `ashlar detach ATTACHMENT`: deletes an attachment made by `ashlar attach` (or anyone else).
struct Detach: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Detach: delete an attachment (undoes `ashlar attach`).",
        discussion: "Log out of the target (or stop whatever uses the iscsi:// URL) first.")

    @Argument(help: ArgumentHelp("The attachment's ID, as `ashlar attach` printed it.", valueName: "attachment"))
    var attachment: String

    @OptionGroup var api: ClientOptions

    func run() async throws {
        try await runClient { () async throws(CinderClientError) in
            let client = try api.client()
            _ = try await client.send("DELETE", ["attachments", attachment])
            print("detached")
        }
    }
}

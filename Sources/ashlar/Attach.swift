import ArgumentParser
import Foundation

/// The API options `attach` and `detach` share (as the openstack CLI names them, with noauth's user:project).
struct ClientOptions: ParsableArguments {
    @Option(
        name: .customLong("os-endpoint"),
        help: ArgumentHelp(
            "The Block Storage v3 endpoint (default: $OS_ENDPOINT, else \(CinderEndpoint.defaultEndpoint)).",
            valueName: "url"))
    var endpoint: String?

    @Option(
        name: [.customLong("os-project-id"), .customLong("os-project")],
        help: ArgumentHelp(
            "The project of the noauth token (default: the project the endpoint names, else $OS_PROJECT_ID, else admin).",
            valueName: "id"))
    var project: String?

    @Option(
        name: .customLong("os-user"),
        help: ArgumentHelp("The user of the noauth token (default admin).", valueName: "id"))
    var user: String?

    @Option(
        name: .customLong("os-token"),
        help: ArgumentHelp(
            "A token to send instead of noauth's user:project (default: $OS_TOKEN).", valueName: "token"))
    var token: String?

    @Option(name: .customLong("timeout"), help: ArgumentHelp("Seconds to wait for each request.", valueName: "seconds"))
    var timeout: Int = 60

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be a positive number.") }
    }

    func client() throws(CinderClientError) -> CinderClient {
        let environment = ProcessInfo.processInfo.environment
        let url = try CinderEndpoint.resolve(flag: endpoint, environment: environment)
        let token = CinderEndpoint.authToken(
            token: token, user: user, project: project ?? CinderEndpoint.project(of: url), environment: environment)
        return CinderClient(
            endpoint: url, headers: CinderEndpoint.headers(authToken: token), timeout: TimeInterval(timeout))
    }
}

/// Runs a client command body; a `CinderClientError` becomes `ashlar: <reason>` on stderr and a non-zero exit.
func runClient(_ body: () async throws(CinderClientError) -> Void) async throws {
    do {
        try await body()
    } catch {
        FileHandle.standardError.write(Data("ashlar: \(error)\n".utf8))
        throw ExitCode(error.exitCode)
    }
}

/// `ashlar attach VOLUME`: an attachment for this host without Nova, through the attachments API.
struct Attach: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Attach a volume to this host (no Nova): create and complete an attachment, print the connection.",
        discussion: """
            Creates an attachment with this host's iSCSI connector (the initiator from \(InitiatorName.path), \
            else a generated one), completes it, and prints the connection and an iscsi:// URL that QEMU, \
            qemu-img and libiscsi take directly. `ashlar detach ATTACHMENT` undoes it.
            """)

    enum Mode: String, ExpressibleByArgument, CaseIterable {
        case rw, ro
    }

    @Argument(help: ArgumentHelp("The volume's ID or name.", valueName: "volume"))
    var volume: String

    @Option(
        name: .customLong("host"),
        help: ArgumentHelp("The host name in the connector (default: this host's).", valueName: "name"))
    var host: String?

    @Option(name: .customLong("mode"), help: "Read-write or read-only.")
    var mode: Mode = .rw

    @Flag(name: .customLong("json"), help: "Print the attachment as the API returned it instead.")
    var json = false

    @OptionGroup var api: ClientOptions

    func run() async throws {
        try await runClient { () async throws(CinderClientError) in
            let client = try api.client()
            let volumeID = try await resolveVolume(client)
            let connector = makeConnector(endpoint: client.endpoint)

            let body: Data
            do {
                body = try AttachmentRequests.createBody(volumeID: volumeID, connector: connector, mode: mode.rawValue)
            } catch {
                throw .usage("cannot encode the attachment request: \(error)")
            }
            let created: CinderClient.Reply
            do throws(CinderClientError) {
                created = try await client.send("POST", ["attachments"], body: body)
            } catch .transport(let reason) {
                // No answer: the server may still have made it, and there is no id to delete it by.
                throw .transport(
                    "\(reason)\n(the attachment may have been made all the same: look for it with "
                        + "`openstack volume attachment list --volume-id \(volumeID)` and `ashlar detach` it)")
            }
            let attachment = try AttachmentReply.parse(created.body)

            // Nothing half-made: without a connection to show, or when completing fails, the attachment goes.
            if !attachment.hasConnectionInfo {
                await deleteQuietly(client, attachment.id)
                throw .transport("the server returned no connection_info for attachment \(attachment.id); deleted it")
            }
            do throws(CinderClientError) {
                _ = try await client.send(
                    "POST", ["attachments", attachment.id, "action"], body: AttachmentRequests.completeBody)
            } catch {
                let cleanup = await deleteQuietly(client, attachment.id)
                let message = "completing attachment \(attachment.id) failed: \(error)\(cleanup)"
                if case .api(let status, _) = error { throw .api(status: status, message: message) }
                throw .transport(message)
            }

            if json {
                print(String(decoding: created.body, as: UTF8.self))
            } else {
                printHuman(attachment, volumeID: volumeID, initiator: connector.initiator)
            }
        }
    }

    /// VOLUME as an id: used as it is when it looks like one, else looked up by name.
    func resolveVolume(_ client: CinderClient) async throws(CinderClientError) -> String {
        if CinderEndpoint.looksLikeID(volume) { return volume }
        let list = try await client.send("GET", ["volumes"], query: [("name", volume)])
        return try AttachmentRequests.volumeID(named: volume, listBody: list.body)
    }

    func makeConnector(endpoint: URL) -> ISCSIConnector {
        let hostname = HostInfo.hostname()
        let initiator: String
        if let found = HostInfo.read(InitiatorName.path).flatMap(InitiatorName.parse) {
            initiator = found
        } else {
            let suffix = InitiatorName.suffix(machineID: HostInfo.read("/etc/machine-id"), hostname: hostname)
            initiator = InitiatorName.generated(hostname: hostname, suffix: suffix)
            FileHandle.standardError.write(
                Data("ashlar: no InitiatorName in \(InitiatorName.path); using the generated \(initiator)\n".utf8))
        }
        let port = endpoint.port ?? (endpoint.scheme?.lowercased() == "https" ? 443 : 80)
        let ip = endpoint.host.flatMap { HostInfo.localAddress(toward: $0, port: port) } ?? "127.0.0.1"
        return ISCSIConnector(initiator: initiator, ip: ip, host: host ?? hostname, platform: HostInfo.machine())
    }

    /// Deletes a failed attachment; returns a note for the error message when that failed too.
    @discardableResult
    func deleteQuietly(_ client: CinderClient, _ id: String) async -> String {
        do {
            _ = try await client.send("DELETE", ["attachments", id])
            return " (the attachment was deleted)"
        } catch {
            return " (deleting the attachment failed too: \(error); run `ashlar detach \(id)`)"
        }
    }

    func printHuman(_ a: AttachmentReply, volumeID: String, initiator: String) {
        var rows: [(String, String)] = [
            ("attachment", a.id),
            ("volume", (a.volumeID ?? volumeID) + (volume == (a.volumeID ?? volumeID) ? "" : " (\(volume))")),
            ("mode", a.mode ?? mode.rawValue),
            ("initiator", initiator),
            ("type", a.driverVolumeType ?? "-"),
        ]
        if let target = a.iscsiTarget {
            rows += [("portal", target.portal), ("iqn", target.iqn), ("lun", String(target.lun))]
            let chap = a.chap
            rows.append(("chap user", chap?.username ?? "-"))
            let url = ISCSIURL.make(
                portal: target.portal, iqn: target.iqn, lun: target.lun, username: chap?.username,
                password: chap?.password)
            if let chap, !url.credentialsInURL {
                // libiscsi reads the URL's credentials literally, so these could not go in: show the secret here
                // and say how libiscsi takes them instead.
                rows.append(("chap secret", chap.password))
                FileHandle.standardError.write(
                    Data(
                        ("ashlar: the CHAP credentials cannot go in an iscsi:// URL as they are; give them to "
                            + "libiscsi as LIBISCSI_CHAP_USERNAME and LIBISCSI_CHAP_PASSWORD\n").utf8))
            }
            rows.append(("url", url.url))
        } else {
            // Not iSCSI (or incomplete): show what there is, secrets aside.
            for key in a.data.keys.sorted() where !key.contains("password") && !key.contains("secret") {
                rows.append((key, a.data[key] ?? ""))
            }
        }
        let width = rows.map(\.0.count).max() ?? 0
        for (name, value) in rows {
            print(name + String(repeating: " ", count: width - name.count + 2) + value)
        }
    }
}

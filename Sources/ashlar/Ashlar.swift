import ArgumentParser

/// The `ashlar` command: one executable for every shape of the service.
@main
struct Ashlar: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ashlar",
        abstract: "Block storage with the OpenStack Cinder v3 API.",
        subcommands: [Serve.self, API.self, SchedulerCommand.self, VolumeCommand.self, Manage.self, Attach.self, Detach.self],
        defaultSubcommand: Serve.self)
}

import Logging

/// The request id and project of the request being served, for every log line written while serving it.
///
/// Held in a task-local and read through a `Logger.MetadataProvider` only when a line is actually written: setting
/// them on the request's logger instead made the stream handler format its metadata twice for every request, also
/// for the reads that log nothing (about 5% of a volume show's CPU).
public enum RequestLogMetadata {
    @TaskLocal static var current: Logger.Metadata = [:]

    /// Give this to the log handlers so that lines carry the current request's metadata.
    public static let provider = Logger.MetadataProvider { current }

    /// Runs `body` with `metadata` added to the current request's.
    static func with<T>(_ metadata: Logger.Metadata, _ body: () async throws -> T) async rethrows -> T {
        try await $current.withValue(current.merging(metadata) { $1 }, operation: body)
    }
}

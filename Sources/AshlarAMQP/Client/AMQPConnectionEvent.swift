/// What the broker says about the connection as a whole.
public enum AMQPConnectionEvent: Sendable, Equatable {
    /// connection.blocked: the broker stopped reading publishes (memory or disk alarm); publishes wait.
    case blocked(reason: String)
    /// connection.unblocked.
    case unblocked
}

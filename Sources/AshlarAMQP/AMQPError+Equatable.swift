extension AMQPError: Equatable {
    /// Errors compare by code and the broker's reply (enough for tests and for deduplicating).
    public static func == (a: AMQPError, b: AMQPError) -> Bool {
        a.code == b.code && a.replyCode == b.replyCode && a.replyText == b.replyText
    }
}

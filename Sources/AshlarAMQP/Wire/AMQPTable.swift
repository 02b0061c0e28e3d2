/// An AMQP field table: string keys to `AMQPFieldValue`s.
///
/// Kept in insertion order (the wire order when decoded), so encoding is deterministic; keys are unique, setting
/// an existing key replaces its value in place.
public struct AMQPTable: Sendable, Hashable, ExpressibleByDictionaryLiteral, Sequence {
    /// The entries in order.
    public private(set) var entries: [(key: String, value: AMQPFieldValue)]

    /// An empty table.
    public init() { entries = [] }

    /// A table of these entries; later duplicates replace earlier ones.
    public init(_ entries: [(String, AMQPFieldValue)]) {
        self.entries = []
        for (key, value) in entries { self[key] = value }
    }

    public init(dictionaryLiteral elements: (String, AMQPFieldValue)...) {
        self.init(elements)
    }

    /// The value of a key, or nil; setting nil removes the key.
    public subscript(key: String) -> AMQPFieldValue? {
        get { entries.first { $0.key == key }?.value }
        set {
            let index = entries.firstIndex { $0.key == key }
            switch (index, newValue) {
            case (let index?, let value?): entries[index].value = value
            case (let index?, nil): entries.remove(at: index)
            case (nil, let value?): entries.append((key, value))
            case (nil, nil): break
            }
        }
    }

    /// Whether the table has no entries.
    public var isEmpty: Bool { entries.isEmpty }
    /// The number of entries.
    public var count: Int { entries.count }

    public func makeIterator() -> IndexingIterator<[(key: String, value: AMQPFieldValue)]> {
        entries.makeIterator()
    }

    /// Tables are equal when they hold the same keys and values, whatever the order.
    public static func == (lhs: AMQPTable, rhs: AMQPTable) -> Bool {
        lhs.count == rhs.count && lhs.entries.allSatisfy { rhs[$0.key] == $0.value }
    }

    public func hash(into hasher: inout Hasher) {
        // Order-independent, like ==.
        var combined = 0
        for entry in entries {
            var h = Hasher()
            h.combine(entry.key)
            h.combine(entry.value)
            combined ^= h.finalize()
        }
        hasher.combine(count)
        hasher.combine(combined)
    }
}

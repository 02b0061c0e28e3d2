import AshlarCore
import Foundation
import SQLKit

extension StateMachine.Transition where Status: RawRepresentable, Status.RawValue == String {
    /// Adds the transition to an `UPDATE`: the status it ends in, what it does besides, and `WHERE status IN
    /// (from)`, so that the statement is the compare-and-swap of the transition. Throws for a chosen status the
    /// event does not allow.
    func apply(to builder: SQLUpdateBuilder, column: String = "status", chosen: Status? = nil) throws {
        switch to {
        case .status(let status): builder.set(SQLIdentifier(column), to: SQLBind(status.rawValue))
        case .previous(let fallback):
            builder.set(
                SQLIdentifier(column),
                to: SQLFunction("COALESCE", args: SQLIdentifier("previous_status"), SQLBind(fallback.rawValue)))
        case .chosen(let allowed):
            guard let chosen, allowed.contains(chosen) else {
                throw AshlarError(.invalidInput, "Invalid input received: status \(chosen?.rawValue ?? "none") is not allowed here.")
            }
            builder.set(SQLIdentifier(column), to: SQLBind(chosen.rawValue))
        case .fromAttachments:
            throw AshlarError(.internalError, "a status recomputed from attachments is not set by a transition")
        }
        // In SET, `status` is the row's value before this statement: the status being left.
        if effects.contains(.savePrevious) { builder.set("previous_status", to: SQLIdentifier(column)) }
        if effects.contains(.clearPrevious) { builder.set("previous_status", to: SQLLiteral.null) }
        if effects.contains(.releaseQuota) { builder.set("consumes_quota", to: SQLLiteral.boolean(false)) }
        if effects.contains(.clearPendingSize) { builder.set("extend_to", to: SQLLiteral.null) }
        builder.where(SQLIdentifier(column), .in, from.map(\.rawValue).sorted())
    }
}

extension SQLDatabase {
    /// `UPDATE table SET <transition> …, updated_at = now WHERE id = ? AND <from>`: the start of every store's
    /// `apply`, which adds its own columns and conditions.
    func transition<Status, Event>(
        _ transition: StateMachine<Status, Event>.Transition, of table: String, id: String, column: String = "status",
        chosen: Status? = nil
    ) throws -> SQLUpdateBuilder where Status: RawRepresentable, Status.RawValue == String {
        try self.transition(transition, of: table, where: "id", equals: id, column: column, chosen: chosen)
    }

    /// The same for every row whose `key` is `value` (a volume's snapshots, a group's volumes): one statement
    /// moves each row the transition can start from.
    func transition<Status, Event>(
        _ transition: StateMachine<Status, Event>.Transition, of table: String, where key: String, equals value: String,
        column: String = "status", chosen: Status? = nil
    ) throws -> SQLUpdateBuilder where Status: RawRepresentable, Status.RawValue == String {
        let builder = update(table)
        try transition.apply(to: builder, column: column, chosen: chosen)
        builder.set("updated_at", to: Date().stored)
        builder.where(SQLIdentifier(key), .equal, SQLBind(value))
        return builder
    }
}

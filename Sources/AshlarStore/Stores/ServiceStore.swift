import AshlarCore
import Foundation
import SQLKit

/// The services table: each scheduler and volume backend registers here and heartbeats.
public struct ServiceStore: Sendable {
    let db: AshlarDatabase

    public init(db: AshlarDatabase) { self.db = db }

    /// Creates the row if it is missing and refreshes topic and zone; keeps the admin's enabled/disabled choice.
    public func register(host: String, binary: String, topic: String, availabilityZone: String) async throws {
        let now = Date().stored
        // One statement: two processes starting with the same host and binary cannot both insert.
        try await db.write.insert(into: "services")
            .columns(
                "host", "binary_name", "topic", "availability_zone", "disabled", "disabled_reason", "frozen",
                "report_count", "backend_state", "created_at", "updated_at"
            )
            .values(
                SQLBind(host), SQLBind(binary), SQLBind(topic), SQLBind(availabilityZone), SQLBind(false),
                SQLBind(String?.none), SQLBind(false), SQLBind(0), SQLBind(String?.none), SQLBind(now), SQLBind(now)
            )
            .onConflict(with: ["host", "binary_name"]) { conflict in
                conflict.set(excludedValueOf: "topic").set(excludedValueOf: "availability_zone")
                    .set(excludedValueOf: "updated_at")
            }
            .run()
    }

    /// Records a heartbeat.
    public func heartbeat(host: String, binary: String, backendState: String? = nil) async throws {
        let builder = db.write.update("services")
            .set("updated_at", to: Date().stored)
            .set("report_count", to: SQLRaw("report_count + 1"))
        if let backendState { builder.set("backend_state", to: backendState) }
        try await builder.where("host", .equal, host).where("binary_name", .equal, binary).run()
    }

    public func get(host: String, binary: String) async throws -> ServiceRecord? {
        try await db.read.select().column("*").from("services").where("host", .equal, host)
            .where("binary_name", .equal, binary).first().map(Self.decode)
    }

    /// The services, by `host` (a node, `node@backend` or `node@backend#pool`) and `binary` when given.
    public func list(host: String? = nil, binary: String? = nil) async throws -> [ServiceRecord] {
        let select = db.read.select().column("*").from("services")
        if let host {
            // As upstream's host filter: a node matches its backends (`node@backend`), a backend its pools.
            select.where { group in
                group.where("host", .equal, host)
                if !host.contains("#") {
                    group.orWhere(VolumeStore.hasPrefix("host", host + "#"))
                    if !host.contains("@") { group.orWhere(VolumeStore.hasPrefix("host", host + "@")) }
                }
                return group
            }
        }
        if let binary { select.where("binary_name", .equal, binary) }
        return try await select.orderBy("binary_name").orderBy("host").all().map(Self.decode)
    }

    /// Enables or disables every service of `binary` on `host` (a backend host `node@backend`, or `node` for all
    /// of a node's backends); returns the services changed.
    public func setDisabled(
        host: String, binary: String, disabled: Bool, reason: String?
    ) async throws
        -> [ServiceRecord]
    {
        let builder = db.write.update("services").set("disabled", to: disabled).set(
            "disabled_reason", to: SQLBind(reason))
        return try await updateMatching(builder, host: host, binary: binary)
    }

    /// Freezes or thaws the volume services of `host` (`node@backend`, or `node` for all its backends): a frozen
    /// backend takes no new volumes. Returns the services changed.
    public func setFrozen(host: String, frozen: Bool) async throws -> [ServiceRecord] {
        try await updateMatching(
            db.write.update("services").set("frozen", to: frozen), host: host, binary: ServiceRecord.volumeBinary)
    }

    /// Applies `builder` to the services of `binary` on `host` exactly, or on any `host@backend`.
    private func updateMatching(
        _ builder: SQLUpdateBuilder, host: String, binary: String
    ) async throws
        -> [ServiceRecord]
    {
        builder.where("binary_name", .equal, binary)
        builder.where { group in
            group.where("host", .equal, host).orWhere(VolumeStore.hasPrefix("host", host + "@"))
        }
        return try await builder.returning("*").all().map(Self.decode)
    }

    /// Hosts of `binary` that may not take work: disabled, frozen, or silent for longer than `downTime` seconds.
    public func unusableHosts(binary: String, downTime: Int, now: Date = Date()) async throws -> [String] {
        try await db.read.select().column("host").from("services").where("binary_name", .equal, binary)
            .where { group in
                group.where("disabled", .equal, true).orWhere("frozen", .equal, true)
                    .orWhere("updated_at", .lessThan, SQLBind(now.stored - Double(downTime)))
            }
            .all().map { try $0.decode(column: "host", as: String.self) }
    }

    static func decode(_ row: any SQLRow) throws -> ServiceRecord {
        ServiceRecord(
            host: try row.decode(column: "host", as: String.self),
            binary: try row.decode(column: "binary_name", as: String.self),
            topic: try row.decode(column: "topic", as: String.self),
            availabilityZone: try row.decode(column: "availability_zone", as: String.self),
            disabled: try row.decode(column: "disabled", as: Bool.self),
            disabledReason: try row.optional("disabled_reason", String.self),
            frozen: try row.decode(column: "frozen", as: Bool.self),
            reportCount: try row.decode(column: "report_count", as: Int.self),
            createdAt: try row.date("created_at"),
            updatedAt: try row.optionalDate("updated_at"),
            backendState: try row.optional("backend_state", String.self)
        )
    }
}

extension ServiceStore {
    /// Removes the service's row (`cinder-manage service remove`); true when there was one.
    @discardableResult
    public func remove(binary: String, host: String) async throws -> Bool {
        try await !db.write.delete(from: "services").where("host", .equal, host).where("binary_name", .equal, binary)
            .returning("host").all().isEmpty
    }
}

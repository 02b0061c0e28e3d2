import AshlarCore
import Foundation
import SQLKit

/// Quota limits and usage.
///
/// Usage is never stored, so it can never drift: it is counted from the `volumes` and `snapshots` rows that
/// consume quota. A create is admitted by the very statement that inserts it (`INSERT … SELECT … WHERE
/// <admission>`), and an extend by the `UPDATE … WHERE <admission>` that records it; statements are atomic, so
/// concurrent requests cannot together overshoot a limit.
///
/// Limits in force for a project: its own row in `quotas`, else the `default` class row in `quota_classes`, else
/// the configured default (per-type resources: unlimited).
public struct QuotaStore: Sendable {
    let db: AshlarDatabase
    /// The configured defaults (`quota_*`, `per_volume_size_limit`).
    public let configured: QuotaDefaults
    /// `no_snapshot_gb_quota`: snapshots do not count against the gigabytes quotas.
    public let noSnapshotGigabytes: Bool

    /// The quota class whose limits stand in for the configured defaults.
    public static let defaultClass = "default"

    public init(db: AshlarDatabase, defaults: QuotaDefaults, noSnapshotGigabytes: Bool) {
        self.db = db
        self.configured = defaults
        self.noSnapshotGigabytes = noSnapshotGigabytes
    }

    // MARK: - Limits

    /// Every resource known now: the global ones and the per-type ones of every existing volume type.
    public func resources() async throws -> [String] {
        QuotaResource.all(typeNames: try await typeNames())
    }

    /// The defaults every project starts with: the `default` class over the configuration.
    public func defaults() async throws -> [String: Int] {
        try await classLimits(Self.defaultClass)
    }

    /// The limits of a quota class: its rows, then the `default` class, then the configuration.
    public func classLimits(_ className: String) async throws -> [String: Int] {
        let resources = try await resources()
        var limits = configuredLimits(resources)
        overlay(&limits, try await rows(classNamed: Self.defaultClass))
        if className != Self.defaultClass {
            overlay(&limits, try await rows(classNamed: className))
        }
        return limits
    }

    /// The limits in force for a project, for every resource (per-type ones for every existing type included).
    public func limits(projectID: String) async throws -> [String: Int] {
        let resources = try await resources()
        var limits = configuredLimits(resources)
        overlay(&limits, try await rows(classNamed: Self.defaultClass))
        let own = try await db.read.select().column("resource").column("hard_limit").from("quotas")
            .where("project_id", .equal, projectID).all()
        overlay(&limits, try Self.decodeLimits(own))
        return limits
    }

    /// Sets some of a project's limits, in one statement; the others keep theirs.
    public func setLimits(projectID: String, _ limits: [String: Int]) async throws {
        try await upsert(table: "quotas", owner: "project_id", ownerValue: projectID, limits)
    }

    /// Removes all of a project's own limits: it falls back to the defaults.
    public func deleteLimits(projectID: String) async throws {
        try await db.write.delete(from: "quotas").where("project_id", .equal, projectID).run()
    }

    /// Sets some of a quota class's limits, in one statement; the others keep theirs.
    public func setClassLimits(_ className: String, _ limits: [String: Int]) async throws {
        try await upsert(table: "quota_classes", owner: "class_name", ownerValue: className, limits)
    }

    private func upsert(table: String, owner: String, ownerValue: String, _ limits: [String: Int]) async throws {
        guard !limits.isEmpty else { return }
        let insert = db.write.insert(into: table).columns(owner, "resource", "hard_limit")
        for (resource, limit) in limits.sorted(by: { $0.key < $1.key }) {
            insert.values(SQLBind(ownerValue), SQLBind(resource), SQLBind(limit))
        }
        try await insert.onConflict(with: [owner, "resource"]) { $0.set(excludedValueOf: "hard_limit") }.run()
    }

    private func configuredLimits(_ resources: [String]) -> [String: Int] {
        let global = configured.limits
        return Dictionary(uniqueKeysWithValues: resources.map { ($0, global[$0] ?? QuotaResource.perTypeDefault) })
    }

    /// Rows for resources that no longer exist (a deleted type's) are ignored.
    private func overlay(_ limits: inout [String: Int], _ rows: [String: Int]) {
        for (resource, limit) in rows where limits[resource] != nil { limits[resource] = limit }
    }

    private func rows(classNamed className: String) async throws -> [String: Int] {
        try Self.decodeLimits(
            try await db.read.select().column("resource").column("hard_limit").from("quota_classes")
                .where("class_name", .equal, className).all())
    }

    private static func decodeLimits(_ rows: [any SQLRow]) throws -> [String: Int] {
        var result: [String: Int] = [:]
        for row in rows {
            result[try row.decode(column: "resource", as: String.self)] = try row.decode(
                column: "hard_limit", as: Int.self)
        }
        return result
    }

    private func typeNames() async throws -> [String] {
        try await db.read.select().column("name").from("volume_types").orderBy("name").all()
            .map { try $0.decode(column: "name", as: String.self) }
    }

    // MARK: - Usage

    /// What the project uses of every resource (per-type ones for every existing type; uncounted ones are 0).
    public func usage(projectID: String) async throws -> [String: Int] {
        let types = try await db.read.select().column("id").column("name").from("volume_types").all()
        var typeNames: [String: String] = [:]
        for row in types {
            typeNames[try row.decode(column: "id", as: String.self)] = try row.decode(column: "name", as: String.self)
        }
        var usage = Dictionary(
            uniqueKeysWithValues: QuotaResource.all(typeNames: typeNames.values.sorted()).map { ($0, 0) })
        func add(_ base: String, _ amount: Int, typeID: String) {
            usage[base, default: 0] += amount
            if let name = typeNames[typeID] { usage[QuotaResource.perType(base, typeName: name), default: 0] += amount }
        }
        // One grouped pass over each table: counts and sizes per volume type.
        let volumes = try await db.read.select().column("volume_type_id")
            .column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n")
            .column(SQLFunction("SUM", args: Self.volumeGigabytes(table: "volumes")), as: "gb")
            .from("volumes").where("project_id", .equal, projectID).where("consumes_quota", .equal, true)
            .groupBy("volume_type_id").all()
        for row in volumes {
            let typeID = try row.decode(column: "volume_type_id", as: String.self)
            add(QuotaResource.volumes, try row.decode(column: "n", as: Int.self), typeID: typeID)
            add(QuotaResource.gigabytes, try row.decode(column: "gb", as: Int.self), typeID: typeID)
        }
        let snapshots = try await db.read.select().column("volume_type_id")
            .column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n")
            .column(SQLFunction("SUM", args: SQLIdentifier("volume_size")), as: "gb")
            .from("snapshots").where("project_id", .equal, projectID).where("consumes_quota", .equal, true)
            .groupBy("volume_type_id").all()
        for row in snapshots {
            let typeID = try row.decode(column: "volume_type_id", as: String.self)
            add(QuotaResource.snapshots, try row.decode(column: "n", as: Int.self), typeID: typeID)
            if !noSnapshotGigabytes {
                add(QuotaResource.gigabytes, try row.decode(column: "gb", as: Int.self), typeID: typeID)
            }
        }
        usage[QuotaResource.groups] = try await GroupStore(db: db).count(projectID: projectID)
        return usage
    }

    /// The deltas of a new snapshot of a `size` GB volume, as `no_snapshot_gb_quota` says.
    public func snapshotDeltas(size: Int, volumeTypeName: String?) -> QuotaDeltas {
        .snapshot(size: size, volumeTypeName: volumeTypeName, countsGigabytes: !noSnapshotGigabytes)
    }

    // MARK: - Admission

    /// A predicate that is true iff every growing, limited resource of `deltas` still fits: live usage (counted
    /// by subqueries over `volumes` and `snapshots`) plus the delta is at most the limit. Nil when nothing the
    /// deltas grow is limited.
    ///
    /// Only plain subqueries and binds, so it can be embedded as is in
    /// `INSERT INTO volumes (…) SELECT <binds> WHERE <predicate>` and in
    /// `UPDATE volumes SET … WHERE id = ? AND <predicate>`, on SQLite and PostgreSQL alike.
    public func admission(projectID: String, deltas: QuotaDeltas, limits: [String: Int]) -> (any SQLExpression)? {
        let checks: [any SQLExpression] = deltas.limitedChanges(limits).compactMap { change in
            guard let base = QuotaResource.base(of: change.resource) else { return nil }
            let type = change.resource == base ? nil : deltas.volumeTypeName
            let used = usageExpression(base, projectID: projectID, typeName: type)
            return SQLBinaryExpression(
                SQLBinaryExpression(used, .add, SQLBind(change.delta)), .lessThanOrEqual, SQLBind(change.limit))
        }
        if checks.isEmpty { return nil }
        return SQLGroupExpression(SQLList(checks, separator: SQLRaw(" AND ")))
    }

    /// Whether `deltas` would be admitted now (the admission predicate, run on its own).
    public func fits(projectID: String, deltas: QuotaDeltas, limits: [String: Int]) async throws -> Bool {
        guard let predicate = admission(projectID: projectID, deltas: deltas, limits: limits) else { return true }
        return try await db.read.select().column(SQLLiteral.numeric("1"), as: "ok").where(predicate).first() != nil
    }

    /// After a statement was refused by its admission: the 413 for the first resource over its limit, in
    /// Cinder's order (volumes, gigabytes, snapshots, then the per-type ones), from usage read again now.
    public func refusal(projectID: String, deltas: QuotaDeltas, limits: [String: Int]) async throws -> AshlarError {
        let usage = try await usage(projectID: projectID)
        if let error = deltas.refusal(limits: limits, usage: usage) { return error }
        // Something was freed since the refusal: still refused, with the resources that were limited.
        let limited = deltas.limitedChanges(limits).map { "'\($0.resource)'" }.joined(separator: ", ")
        return AshlarError(.overLimit, "OverQuota: Quota exceeded for resources: [\(limited)]")
    }

    /// Live usage of a counted resource as a scalar subquery; per type when `typeName` is given.
    private func usageExpression(_ base: String, projectID: String, typeName: String?) -> any SQLExpression {
        switch base {
        case QuotaResource.volumes:
            return count(table: "volumes", projectID: projectID, typeName: typeName)
        case QuotaResource.snapshots:
            return count(table: "snapshots", projectID: projectID, typeName: typeName)
        default:
            let volumes = sum(
                Self.volumeGigabytes(table: Self.volumesAlias), table: "volumes", projectID: projectID,
                typeName: typeName)
            if noSnapshotGigabytes { return volumes }
            let snapshots = sum(
                SQLColumn("volume_size", table: Self.snapshotsAlias), table: "snapshots", projectID: projectID,
                typeName: typeName)
            return SQLGroupExpression(SQLBinaryExpression(volumes, .add, snapshots))
        }
    }

    // The inner tables get their own aliases, so that their columns never resolve to the statement's own
    // `volumes` row (the one being inserted or updated).
    private static let volumesAlias = "quota_volumes"
    private static let snapshotsAlias = "quota_snapshots"

    private func count(table: String, projectID: String, typeName: String?) -> any SQLExpression {
        scalar(SQLFunction("COUNT", args: SQLLiteral.all), table: table, projectID: projectID, typeName: typeName)
    }

    private func sum(
        _ value: any SQLExpression, table: String, projectID: String, typeName: String?
    )
        -> any SQLExpression
    {
        scalar(
            SQLFunction("COALESCE", args: SQLFunction("SUM", args: value), SQLLiteral.numeric("0")), table: table,
            projectID: projectID, typeName: typeName)
    }

    /// `(SELECT <value> FROM <table> AS alias WHERE project_id = ? AND consumes_quota = ? [AND type = …])`.
    private func scalar(
        _ value: any SQLExpression, table: String, projectID: String, typeName: String?
    )
        -> any SQLExpression
    {
        let alias = table == "volumes" ? Self.volumesAlias : Self.snapshotsAlias
        return SQLSubquery.select { sub in
            sub.column(value)
                .from(SQLAlias(SQLIdentifier(table), as: SQLIdentifier(alias)))
                .where(SQLColumn("project_id", table: alias), .equal, SQLBind(projectID))
                .where(SQLColumn("consumes_quota", table: alias), .equal, SQLBind(true))
            if let typeName {
                sub.where(
                    SQLColumn("volume_type_id", table: alias), .in,
                    SQLSubquery.select { types in
                        types.column(SQLColumn("id", table: "quota_types"))
                            .from(SQLAlias(SQLIdentifier("volume_types"), as: SQLIdentifier("quota_types")))
                            .where(SQLColumn("name", table: "quota_types"), .equal, SQLBind(typeName))
                    })
            }
            return sub
        }
    }

    /// A volume's size as the gigabytes quota counts it: an extend under way already counts at its target size.
    /// CASE rather than MAX(a, b), which PostgreSQL spells GREATEST.
    static func volumeGigabytes(table: String) -> any SQLExpression {
        let size = SQLColumn("size", table: table)
        let target = SQLColumn("extend_to", table: table)
        return SQLQueryString("CASE WHEN \(target) > \(size) THEN \(target) ELSE \(size) END")
    }
}

import AshlarCore
import Foundation
import SQLKit

extension VolumeStore {
    /// The volumes of a group, oldest first.
    public func members(ofGroup groupID: String) async throws -> [Volume] {
        try await list(ListQuery(projectID: nil, conditions: [.init("group_id", .eq, .string(groupID))], sort: [.init("created_at", ascending: true)]))
    }

    /// The ids of the volumes of each of `groupIDs`, oldest first, with one query.
    public func memberIDs(ofGroups groupIDs: [String]) async throws -> [String: [String]] {
        guard !groupIDs.isEmpty else { return [:] }
        let rows = try await db.read.select().column("id").column("group_id").from("volumes")
            .where("group_id", .in, groupIDs).orderBy("created_at").orderBy("id").all()
        var members: [String: [String]] = [:]
        for row in rows {
            members[try row.decode(column: "group_id", as: String.self), default: []].append(
                try row.decode(column: "id", as: String.self))
        }
        return members
    }

    /// Every volume of the group that may be deleted goes to `deleting` in one statement (`deletedWithGroup`);
    /// returns those that did.
    @discardableResult
    public func markDeleting(ofGroup groupID: String) async throws -> [Volume] {
        try await db.write.transition(VolumeStateMachine.table[.deletedWithGroup], of: "volumes", where: "group_id", equals: groupID)
            .returning("*").all().map(Self.decode)
    }

    /// Puts a volume into a group, if in the same statement it is in none, is in one of `statuses`, is of one of
    /// the group's types and lives on its backend; false otherwise.
    public func join(
        _ volumeID: String, group: VolumeGroup, statusIn statuses: Set<VolumeStatus>
    ) async throws -> Bool {
        guard let backend = group.host, !group.volumeTypeIDs.isEmpty else { return false }
        return try await !db.write.update("volumes").set("group_id", to: group.id).set("updated_at", to: Date().stored)
            .where("id", .equal, volumeID)
            .where(SQLBinaryExpression(SQLIdentifier("group_id"), .is, SQLLiteral.null))
            .where("status", .in, statuses.map(\.rawValue).sorted())
            .where("volume_type_id", .in, group.volumeTypeIDs)
            .where(Self.hasPrefix("host", backend + "#"))
            .returning("id").all().isEmpty
    }

    /// Takes a volume out of its group, if it is in one of `statuses`; false otherwise.
    public func leave(_ volumeID: String, groupID: String, statusIn statuses: Set<VolumeStatus>) async throws -> Bool {
        try await !db.write.update("volumes").set("group_id", to: SQLLiteral.null).set("updated_at", to: Date().stored)
            .where("id", .equal, volumeID).where("group_id", .equal, groupID)
            .where("status", .in, statuses.map(\.rawValue).sorted())
            .returning("id").all().isEmpty
    }

    /// The volume being changed belongs to no group (a condition for deleting it alone), and none of its snapshots
    /// to a group snapshot (so a cascade cannot take a member of one).
    public static func notGrouped(_ volumeID: String) -> Requirement {
        Requirement(SQLQueryString(
            "group_id IS NULL AND NOT EXISTS (SELECT 1 FROM snapshots WHERE snapshots.volume_id = \(bind: volumeID) AND snapshots.group_snapshot_id IS NOT NULL)"))
    }
}

extension SnapshotStore {
    /// The snapshot being changed is no member of a group snapshot (a condition for deleting it alone).
    public static let notGrouped = Requirement(SQLRaw("group_snapshot_id IS NULL"))
}

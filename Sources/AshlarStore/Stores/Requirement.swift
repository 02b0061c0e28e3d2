import AshlarCore
import SQLKit

/// A condition a statement checks in the same step as it changes a row: the project's quota, the state of the
/// snapshot or volume a new volume is made from. Built by the stores; opaque to everyone else.
public struct Requirement: Sendable {
    let sql: any SQLExpression

    init(_ sql: any SQLExpression) { self.sql = sql }
}

extension QuotaStore {
    /// The admission of `deltas` (see `admission(projectID:deltas:limits:)`) as a requirement; nil when nothing
    /// the deltas grow is limited.
    public func requirement(projectID: String, deltas: QuotaDeltas, limits: [String: Int]) -> Requirement? {
        admission(projectID: projectID, deltas: deltas, limits: limits).map(Requirement.init)
    }
}

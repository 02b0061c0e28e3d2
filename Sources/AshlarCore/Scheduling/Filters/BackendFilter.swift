import Foundation

/// A scheduler filter: a pure check of one pool against one request.
///
/// Returning a reason instead of a Bool is what lets "No valid backend" explain itself.
public protocol BackendFilter: Sendable {
    /// The name operators use in `scheduler_default_filters`.
    var name: String { get }
    /// nil when the pool passes; otherwise why it does not, in words a user can act on.
    func rejection(of pool: PoolState, for spec: RequestSpec) -> String?
    /// The same check specialised to one request, so that what depends only on the request (parsing extra
    /// specs, zone lists) is done once per decision instead of once per pool.
    func compiled(for spec: RequestSpec) -> (PoolState) -> String?
    /// Whether `spec` asks anything of this filter. When it does not (no zone asked for, no hint given), every
    /// pool would pass, and the scheduler skips the filter instead of calling it once per pool.
    func isNeeded(for spec: RequestSpec) -> Bool
}

extension BackendFilter {
    public func isNeeded(for spec: RequestSpec) -> Bool { true }

    public func compiled(for spec: RequestSpec) -> (PoolState) -> String? {
        { pool in rejection(of: pool, for: spec) }
    }
}

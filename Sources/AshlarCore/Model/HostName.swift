import Foundation

/// Cinder's service and volume host names, `node@backend#pool`.
public enum HostName {
    /// `node@backend`: the name without its pool (as it is when it names none).
    public static func backend(of host: String) -> String {
        host.split(separator: "#", maxSplits: 1).first.map(String.init) ?? host
    }

    /// `node`: the name without its backend and pool.
    public static func node(of host: String) -> String {
        backend(of: host).split(separator: "@", maxSplits: 1).first.map(String.init) ?? host
    }
}

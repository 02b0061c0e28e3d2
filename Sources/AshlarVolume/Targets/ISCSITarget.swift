import AshlarCore
import Foundation

/// Exports volume files as iSCSI targets: Cinder's `target_helper` (`tgtadm` here).
///
/// Who may log in is decided by two gates, and an initiator must pass both:
/// - The ACL decides which initiators see the target at all; others are told "Target not found" at login.
///   A new export is open to every initiator (the ACL entry `ALL`, as Cinder's tgtadm helper does).
///   `allowInitiator(iqn:initiator: "iqn…")` turns that into a list: it adds the name and drops `ALL`, so
///   only the named initiators (every connector attached) may log in. `allowInitiator(iqn:initiator: nil)`
///   opens the target to all again. With no entry left, nobody may log in.
/// - CHAP: when the export has credentials, the initiator must log in with exactly that user and password
///   (another export's credentials are refused). Without credentials the ACL is the only gate.
///
/// All errors are `AshlarError(.driverFailure, …)` with the tool's own message.
public protocol ISCSITarget: Sendable {
    /// Exports `export.path` as LUN 1 of target `export.iqn` with its CHAP account, open to all initiators.
    ///
    /// Idempotent (`ensure_export`): when the target exists it is repaired to match (LUN 1's file and
    /// read-only flag, exactly the asked CHAP account); its ACL is kept, as `allowInitiator`/`disallowInitiator`
    /// own it. An account already bound keeps its secret (tgtadm cannot change one): to change the secret of the
    /// same user, remove the export first. On failure nothing this call created remains.
    func createExport(_ export: ISCSIExport) async throws
    /// Removes target `iqn` (ending its sessions) and its CHAP account when no other target uses it.
    /// Removing an export that does not exist succeeds.
    func removeExport(iqn: String) async throws
    /// Lets `initiator` (an initiator IQN) log in to target `iqn`; `nil` lets every initiator in.
    /// A named initiator turns an open target into a list (see the protocol's notes). Throws when the target
    /// does not exist.
    func allowInitiator(iqn: String, initiator: String?) async throws
    /// Takes `initiator` (or, for `nil`, the open-to-all entry) off target `iqn`'s ACL; sessions already
    /// logged in stay. Absent entries and targets are success.
    func disallowInitiator(iqn: String, initiator: String?) async throws
    /// The targets the daemon has now, by IQN: what `ensure_export` compares with after a restart.
    func exports() async throws -> [String: ISCSIExportState]
    /// `nil` when the target daemon answers, else a reason a person can act on.
    func checkReachable() async -> String?
}

/// One volume file to export.
public struct ISCSIExport: Sendable, Hashable {
    /// The target's name, e.g. `iqn.2010-10.org.openstack:volume-<id>` (see `ISCSIConfig.iqn(forVolume:)`).
    public var iqn: String
    /// The absolute path of the backing file (LUN 1).
    public var path: String
    /// The CHAP user initiators must log in with; `nil` (with `chapPassword`) for no CHAP.
    public var chapUser: String?
    /// The CHAP secret of `chapUser`.
    public var chapPassword: String?
    /// Exports a LUN that refuses writes ("write protected").
    public var readOnly: Bool

    public init(iqn: String, path: String, chapUser: String?, chapPassword: String?, readOnly: Bool = false) {
        self.iqn = iqn
        self.path = path
        self.chapUser = chapUser
        self.chapPassword = chapPassword
        self.readOnly = readOnly
    }

    /// Why this export cannot be made, or nil. Checked before anything is changed.
    func validationFailure() -> String? {
        if iqn.isEmpty || iqn.contains(where: \.isWhitespace) || iqn.utf8.count > 223 {
            return "'\(iqn)' is not a valid iSCSI target name (1 to 223 characters, no spaces)"
        }
        if !path.hasPrefix("/") { return "the backing file '\(path)' of \(iqn) must be an absolute path" }
        switch (chapUser, chapPassword) {
        case (nil, nil):
            return nil
        case (let user?, let password?):
            if user.isEmpty || user.contains(where: \.isWhitespace) {
                return "the CHAP user '\(user)' of \(iqn) must be non-empty and without spaces"
            }
            if password.isEmpty || password.contains(where: \.isWhitespace) {
                return "the CHAP password of \(iqn) must be non-empty and without spaces"
            }
            return nil
        default:
            return "the export of \(iqn) needs both a CHAP user and a CHAP password, or neither"
        }
    }
}

/// What the target daemon has for one target.
public struct ISCSIExportState: Sendable, Hashable {
    public var iqn: String
    /// The daemon's target id.
    public var tid: Int
    /// LUN 1's backing file; nil when the target has no LUN 1.
    public var path: String?
    /// The incoming CHAP accounts bound to the target (normally one, or none for no CHAP).
    public var chapUsers: [String]
    /// Whether the ACL admits every initiator (`ALL`).
    public var allowsAnyInitiator: Bool
    /// The other ACL entries: initiator names (and addresses someone bound by hand; tgtadm lists both alike).
    public var initiators: Set<String>
    /// Whether LUN 1 refuses writes.
    public var readOnly: Bool
    /// Initiators logged in now.
    public var connectedInitiators: [String]

    public init(
        iqn: String, tid: Int, path: String?, chapUsers: [String], allowsAnyInitiator: Bool,
        initiators: Set<String>, readOnly: Bool, connectedInitiators: [String] = []
    ) {
        self.iqn = iqn
        self.tid = tid
        self.path = path
        self.chapUsers = chapUsers
        self.allowsAnyInitiator = allowsAnyInitiator
        self.initiators = initiators
        self.readOnly = readOnly
        self.connectedInitiators = connectedInitiators
    }

    /// The CHAP user, when there is one.
    public var chapUser: String? { chapUsers.first }

    /// Whether the target serves `export` as asked (file, read-only flag, CHAP user). The ACL is not compared.
    public func matches(_ export: ISCSIExport) -> Bool {
        iqn == export.iqn && path == export.path && readOnly == export.readOnly
            && chapUsers == (export.chapUser.map { [$0] } ?? [])
    }
}

/// Checks an initiator name before it goes to the ACL.
func initiatorNameFailure(_ name: String) -> String? {
    // "ALL" would read back as the open-to-all entry: tgtadm lists names and addresses alike.
    if name.isEmpty || name.contains(where: \.isWhitespace) || name.uppercased() == "ALL" {
        return "'\(name)' is not a valid iSCSI initiator name (e.g. iqn.1994-05.com.redhat:host1)"
    }
    return nil
}

import AshlarCore
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Exports volumes through Linux's userspace target daemon tgtd, driven with `tgtadm` (Cinder's
/// `target_helper = tgtadm`). tgtd keeps everything in memory: after it restarts, `exports()` is empty and
/// `createExport` must run again for each exported volume (`ensure_export`).
///
/// CHAP secrets: tgtadm can neither show nor change an account's password. An account is (re)made with the
/// caller's secret whenever `createExport` binds it, unless other targets use it (a configured `chap_username`:
/// it keeps the secret it was made with while any target uses it). An export already bound to the asked user is
/// left alone, so a new secret for the same user needs `removeExport` first.
///
/// tgtd 1.0.x keeps a target's accounts in an array and crashes on the next listing once an account other than
/// the last is unbound: accounts are only ever unbound from the end here.
public struct TgtAdmTarget: ISCSITarget {
    /// The tgtadm executable: a path, or a name looked up on PATH and in the sbin directories.
    public let tgtadm: String
    /// tgtd's management port (`tgtadm -C`); nil for tgtadm's default.
    public let controlPort: Int?
    /// `--bsoflags` for new LUNs (`direct`, `sync`: Cinder's `iscsi_target_flags`); empty for none.
    public let backingStoreFlags: String
    /// Login parameters set on every new target (`iscsi_target_params`; Ashlar's defaults unless given); empty for
    /// tgtd's own.
    public let targetParameters: [ISCSITargetParameter]
    /// How long one tgtadm call may take before it is killed.
    public let timeout: Duration
    private let gate = OperationGate()

    public init(
        tgtadm: String = "tgtadm", controlPort: Int? = nil, backingStoreFlags: String = "",
        targetParameters: [ISCSITargetParameter] = ISCSITargetParameter.defaults, timeout: Duration = .seconds(30)
    ) {
        self.tgtadm = tgtadm
        self.controlPort = controlPort
        self.backingStoreFlags = backingStoreFlags
        self.targetParameters = targetParameters
        self.timeout = timeout
    }

    /// A helper for a backend's `config` (its control port, target flags and login parameters).
    public init(config: ISCSIConfig, tgtadm: String = "tgtadm", timeout: Duration = .seconds(30)) {
        self.init(
            tgtadm: tgtadm, controlPort: config.tgtControlPort, backingStoreFlags: config.iscsiTargetFlags,
            targetParameters: config.targetParameters, timeout: timeout)
    }

    // MARK: ISCSITarget

    public func createExport(_ export: ISCSIExport) async throws {
        if let reason = export.validationFailure() {
            throw AshlarError(.driverFailure, "Cannot export a volume over iSCSI: \(reason).")
        }
        try await gate.run {
            let targets = try await listTargets()
            if let existing = targets.first(where: { $0.iqn == export.iqn }) {
                try await repair(existing, to: export, targets: targets)
            } else {
                try await create(export, targets: targets)
            }
        }
    }

    public func removeExport(iqn: String) async throws {
        try await gate.run {
            let targets = try await listTargets()
            guard let target = targets.first(where: { $0.iqn == iqn }) else { return }
            // --force: the target goes even with initiators logged in, as Cinder's remove_export does.
            try await tgtadm(
                ["--op", "delete", "--mode", "target", "--tid", String(target.tid), "--force"],
                "remove iSCSI target \(iqn) (tid \(target.tid))", tolerating: "can't find the target")
            for user in target.accounts where !isBound(user, elsewhereThan: target.tid, in: targets) {
                try await deleteAccount(user)
            }
        }
    }

    public func allowInitiator(iqn: String, initiator: String?) async throws {
        if let initiator, let reason = initiatorNameFailure(initiator) {
            throw AshlarError(.driverFailure, "Cannot allow an initiator on \(iqn): \(reason).")
        }
        try await gate.run {
            guard let target = try await listTargets().first(where: { $0.iqn == iqn }) else {
                throw AshlarError(
                    .driverFailure,
                    "Cannot allow \(initiator ?? "all initiators") on iSCSI target \(iqn): tgtd on \(channel) has "
                        + "no such target. Export the volume first (ensure_export).")
            }
            let tid = String(target.tid)
            if let initiator {
                if !target.acl.contains(initiator) {
                    try await tgtadm(
                        ["--op", "bind", "--mode", "target", "--tid", tid, "--initiator-name", initiator],
                        "allow initiator \(initiator) on \(iqn)", tolerating: "already exists")
                }
                // ACL entries add up: while ALL is there every initiator gets in, so a named one replaces it.
                // ALL goes after the name is in, so the initiator is never locked out in between.
                if target.acl.contains("ALL") {
                    try await tgtadm(
                        ["--op", "unbind", "--mode", "target", "--tid", tid, "--initiator-address", "ALL"],
                        "restrict \(iqn) to named initiators", tolerating: "does not exist")
                }
            } else if !target.acl.contains("ALL") {
                try await tgtadm(
                    ["--op", "bind", "--mode", "target", "--tid", tid, "--initiator-address", "ALL"],
                    "allow all initiators on \(iqn)", tolerating: "already exists")
            }
        }
    }

    public func disallowInitiator(iqn: String, initiator: String?) async throws {
        if let initiator, let reason = initiatorNameFailure(initiator) {
            throw AshlarError(.driverFailure, "Cannot disallow an initiator on \(iqn): \(reason).")
        }
        try await gate.run {
            guard let target = try await listTargets().first(where: { $0.iqn == iqn }) else { return }
            let entry = initiator ?? "ALL"
            guard target.acl.contains(entry) else { return }
            let option = initiator == nil ? "--initiator-address" : "--initiator-name"
            try await tgtadm(
                ["--op", "unbind", "--mode", "target", "--tid", String(target.tid), option, entry],
                "disallow \(initiator ?? "all initiators") on \(iqn)", tolerating: "does not exist")
        }
    }

    public func exports() async throws -> [String: ISCSIExportState] {
        try await gate.run {
            Dictionary(try await listTargets().map { ($0.iqn, $0.state) }, uniquingKeysWith: { first, _ in first })
        }
    }

    public func checkReachable() async -> String? {
        do {
            let result = try await attempt(["--op", "show", "--mode", "system"])
            guard result.status == 0 else {
                return "tgtd is not running or not listening on \(channel): \(Self.message(result)) "
                    + "(start it, e.g. `tgtd\(controlPort.map { " -C \($0)" } ?? "")` or `systemctl start tgt`)"
            }
            if let state = TgtAdmOutput.driverState(result.stdout), state != "ready" {
                return "tgtd answers on \(channel) but its iscsi driver is '\(state)'; restart tgtd and read its log"
            }
            return nil
        } catch let error as AshlarError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    // MARK: Creating and repairing

    /// Makes a new target for `export`; on any failure removes what it made.
    private func create(_ export: ISCSIExport, targets: [TgtTarget]) async throws {
        let tid = try await newTarget(export.iqn, known: targets)
        var createdAccount: String?
        do {
            for parameter in targetParameters {
                try await tgtadm(
                    [
                        "--op", "update", "--mode", "target", "--tid", String(tid), "--name", parameter.name,
                        "--value", parameter.value,
                    ], "set \(parameter) on iSCSI target \(export.iqn) (iscsi_target_params)")
            }
            try await addLogicalUnit(tid: tid, export)
            if let user = export.chapUser, let password = export.chapPassword {
                // The target has no ACL yet, so nobody can log in while its account is being set up.
                if try await prepareAccount(user, password, tid: tid, targets: targets) { createdAccount = user }
                try await bindAccount(user, tid: tid, iqn: export.iqn)
            }
            // Last: the ACL opens the target, and by now its CHAP account guards it.
            try await tgtadm(
                ["--op", "bind", "--mode", "target", "--tid", String(tid), "--initiator-address", "ALL"],
                "open \(export.iqn) to initiators", tolerating: "already exists")
        } catch {
            // No half-made export: its target (with LUN and bindings) and the account this call made go.
            _ = try? await attempt(["--op", "delete", "--mode", "target", "--tid", String(tid), "--force"])
            if let createdAccount {
                _ = try? await attempt(["--op", "delete", "--mode", "account", "--user", createdAccount])
            }
            throw error
        }
    }

    /// Makes `existing` serve `export`: LUN 1's file and read-only flag, exactly the asked CHAP account.
    private func repair(_ existing: TgtTarget, to export: ISCSIExport, targets: [TgtTarget]) async throws {
        let tid = existing.tid
        let lun = existing.logicalUnits[1]
        if lun?.path != export.path {
            if let lun {
                // Swapping the file under logged-in initiators would hand them another volume's data.
                guard existing.sessions.isEmpty else {
                    throw AshlarError(
                        .driverFailure,
                        "iSCSI target \(export.iqn) (tid \(tid)) exports \(lun.path ?? "no file") as LUN 1, not "
                            + "\(export.path), and \(existing.sessions.joined(separator: ", ")) "
                            + "\(existing.sessions.count == 1 ? "is" : "are") logged in: detach them or remove "
                            + "the export before exporting \(export.path).")
                }
                try await tgtadm(
                    ["--op", "delete", "--mode", "logicalunit", "--tid", String(tid), "--lun", "1"],
                    "remove the stale LUN 1 (\(lun.path ?? "no file")) of \(export.iqn)")
            }
            try await addLogicalUnit(tid: tid, export)
        } else if lun?.readOnly != export.readOnly {
            try await setReadOnly(export.readOnly, tid: tid, iqn: export.iqn)
        }

        if existing.accounts != (export.chapUser.map { [$0] } ?? []) {
            try await replaceAccounts(of: existing, with: export, targets: targets)
        }
    }

    /// Binds exactly `export`'s CHAP account (or none) to live target `existing`.
    ///
    /// Accounts come off the end only (see the type's notes), so all go and the asked one is bound again. With no
    /// account bound tgtd would not ask for CHAP, so the target's ACL is emptied meanwhile: new logins are refused
    /// for those few tgtadm calls; sessions stay.
    private func replaceAccounts(
        of existing: TgtTarget, with export: ISCSIExport, targets: [TgtTarget]
    )
        async throws
    {
        let tid = existing.tid
        var closed: [(entry: String, option: String)] = []
        do {
            for entry in existing.acl { closed.append((entry, try await unbindACL(entry, tid: tid, iqn: export.iqn))) }
        } catch {
            for (entry, option) in closed { try? await bindACL(entry, option: option, tid: tid, iqn: export.iqn) }
            throw error
        }
        do {
            for user in existing.accounts.reversed() {
                try await tgtadm(
                    ["--op", "unbind", "--mode", "account", "--tid", String(tid), "--user", user],
                    "unbind CHAP account \(user) from \(export.iqn)", tolerating: "can't find the account")
            }
            if let user = export.chapUser, let password = export.chapPassword {
                _ = try await prepareAccount(user, password, tid: tid, targets: targets)
                try await bindAccount(user, tid: tid, iqn: export.iqn)
            }
            for user in existing.accounts where user != export.chapUser {
                if !isBound(user, elsewhereThan: tid, in: targets) { try await deleteAccount(user) }
            }
        } catch {
            // Reopen only when the target is guarded as asked; else it stays closed rather than open without CHAP.
            let now = try? await listTargets().first { $0.tid == tid }
            guard let now, now.accounts == (export.chapUser.map { [$0] } ?? []) else {
                throw AshlarError(
                    .driverFailure,
                    ((error as? AshlarError)?.message ?? "\(error)")
                        + " iSCSI target \(export.iqn) refuses every login until createExport succeeds "
                        + "and its initiators are allowed again (ACL was: \(existing.acl.joined(separator: ", "))).")
            }
            for (entry, option) in closed { try? await bindACL(entry, option: option, tid: tid, iqn: export.iqn) }
            throw error
        }
        for (entry, option) in closed { try await bindACL(entry, option: option, tid: tid, iqn: export.iqn) }
    }

    /// Takes `entry` off target `tid`'s ACL and returns the option that held it (`--initiator-address` for `ALL`
    /// and addresses, `--initiator-name` for names: tgtadm lists both alike).
    private func unbindACL(_ entry: String, tid: Int, iqn: String) async throws -> String {
        let lowered = entry.lowercased()
        let looksLikeName = ["iqn.", "eui.", "naa."].contains { lowered.hasPrefix($0) }
        let options =
            looksLikeName
            ? ["--initiator-name", "--initiator-address"] : ["--initiator-address", "--initiator-name"]
        var last: (arguments: [String], result: ToolResult)?
        for option in options {
            let arguments = ["--op", "unbind", "--mode", "target", "--tid", String(tid), option, entry]
            let result = try await attempt(arguments)
            if result.status == 0 { return option }
            last = (arguments, result)
        }
        throw failure("take \(entry) off the ACL of \(iqn)", last!.arguments, last!.result)
    }

    private func bindACL(_ entry: String, option: String, tid: Int, iqn: String) async throws {
        try await tgtadm(
            ["--op", "bind", "--mode", "target", "--tid", String(tid), option, entry],
            "put \(entry) back on the ACL of \(iqn)", tolerating: "already exists")
    }

    /// Creates target `iqn` with the next free tid (one more than the highest in use) and returns it.
    private func newTarget(_ iqn: String, known: [TgtTarget]) async throws -> Int {
        var known = known
        for round in 1... {
            let tid = (known.map(\.tid).max() ?? 0) + 1
            let arguments = ["--op", "new", "--mode", "target", "--tid", String(tid), "--targetname", iqn]
            let result = try await attempt(arguments)
            if result.status == 0 { return tid }
            // Another tgtadm user (a second backend on this tgtd) may have taken the tid since the listing.
            guard round < 3, result.stderr.contains("already exists") else {
                throw failure("create iSCSI target \(iqn) (tid \(tid))", arguments, result)
            }
            known = try await listTargets()
            if known.contains(where: { $0.iqn == iqn }) {
                throw AshlarError(
                    .driverFailure,
                    "iSCSI target \(iqn) was created by someone else on tgtd (\(channel)) while Ashlar was "
                        + "exporting it; retry the export.")
            }
        }
        fatalError("unreachable: the loop returns or throws")
    }

    /// Adds `export.path` as LUN 1 of target `tid`, read-only when asked.
    private func addLogicalUnit(tid: Int, _ export: ISCSIExport) async throws {
        var arguments = [
            "--op", "new", "--mode", "logicalunit", "--tid", String(tid), "--lun", "1", "--backing-store", export.path,
        ]
        if !backingStoreFlags.isEmpty { arguments += ["--bsoflags", backingStoreFlags] }
        let result = try await attempt(arguments)
        guard result.status == 0 else {
            // tgtadm says only "invalid request" for a missing or unreadable file: name the likely cause.
            let hint =
                access(export.path, F_OK) != 0
                ? "\(export.path) does not exist"
                : access(export.path, R_OK | W_OK) != 0 ? "tgtd cannot read and write \(export.path)" : nil
            throw failure("add \(export.path) as LUN 1 of iSCSI target \(export.iqn)", arguments, result, hint: hint)
        }
        // tgtadm takes `readonly` only as an update of an existing LUN, not with --op new.
        if export.readOnly { try await setReadOnly(true, tid: tid, iqn: export.iqn) }
    }

    private func setReadOnly(_ readOnly: Bool, tid: Int, iqn: String) async throws {
        try await tgtadm(
            [
                "--op", "update", "--mode", "logicalunit", "--tid", String(tid), "--lun", "1",
                "--params", "readonly=\(readOnly ? 1 : 0)",
            ], "make LUN 1 of \(iqn) \(readOnly ? "read-only" : "writable")")
    }

    /// Makes CHAP account `user` ready to bind to target `tid` with `password`; true when this call created it.
    /// An account no other target uses is made again, as that is the only way to be sure of its secret; one other
    /// targets use keeps its secret (and deleting it would unbind it from them).
    private func prepareAccount(
        _ user: String, _ password: String, tid: Int, targets: [TgtTarget]
    ) async throws
        -> Bool
    {
        if isBound(user, elsewhereThan: tid, in: targets) { return false }
        let existed = try await listAccounts().contains(user)
        if existed { try await deleteAccount(user) }
        try await newAccount(user, password)
        return !existed
    }

    private func newAccount(_ user: String, _ password: String) async throws {
        try await tgtadm(
            ["--op", "new", "--mode", "account", "--user", user, "--password", password],
            "create CHAP account \(user)")
    }

    private func bindAccount(_ user: String, tid: Int, iqn: String) async throws {
        try await tgtadm(
            ["--op", "bind", "--mode", "account", "--tid", String(tid), "--user", user],
            "bind CHAP account \(user) to \(iqn)", tolerating: "already exists")
    }

    private func deleteAccount(_ user: String) async throws {
        try await tgtadm(
            ["--op", "delete", "--mode", "account", "--user", user], "delete CHAP account \(user)",
            tolerating: "can't find the account")
    }

    private func isBound(_ user: String, elsewhereThan tid: Int?, in targets: [TgtTarget]) -> Bool {
        targets.contains { $0.tid != tid && $0.accounts.contains(user) }
    }

    // MARK: Running tgtadm

    private func listTargets() async throws -> [TgtTarget] {
        TgtAdmOutput.parseTargets(try await tgtadm(["--op", "show", "--mode", "target"], "list the iSCSI targets"))
    }

    private func listAccounts() async throws -> [String] {
        TgtAdmOutput.parseAccounts(try await tgtadm(["--op", "show", "--mode", "account"], "list the CHAP accounts"))
    }

    /// "control port 7771", for messages.
    private var channel: String { controlPort.map { "control port \($0)" } ?? "tgtadm's default control port" }

    /// Runs tgtadm; throws when it cannot run or times out, and returns its result whatever its status.
    private func attempt(_ arguments: [String]) async throws -> ToolResult {
        guard let executable = ToolRunner.locate(tgtadm) else {
            let searched = ToolRunner.fallbackDirectories.joined(separator: ", ")
            throw AshlarError(
                .driverFailure,
                "tgtadm was not found (looked for '\(tgtadm)' on PATH and in \(searched)): "
                    + "install the tgt package (apt-get install tgt) or configure the path of tgtadm.")
        }
        let full = controlArguments + arguments
        let result: ToolResult
        do {
            result = try await ToolRunner.run(executable, full, timeout: timeout)
        } catch {
            throw AshlarError(.driverFailure, "Could not run \(executable): \(error).")
        }
        if result.timedOut {
            throw AshlarError(
                .driverFailure,
                "`\(Self.commandLine(full))` did not finish within \(timeout) and was killed: tgtd on \(channel) "
                    + "may be hung; restart it.")
        }
        return result
    }

    /// Runs tgtadm and returns its output; a non-zero status throws, unless stderr contains `tolerating`
    /// (an idempotent step that found its work done).
    @discardableResult
    private func tgtadm(_ arguments: [String], _ what: String, tolerating: String? = nil) async throws -> String {
        let result = try await attempt(arguments)
        if result.status == 0 { return result.stdout }
        if let tolerating, result.stderr.contains(tolerating) { return result.stdout }
        throw failure(what, arguments, result)
    }

    private func failure(
        _ what: String, _ arguments: [String], _ result: ToolResult, hint: String? = nil
    )
        -> AshlarError
    {
        var message =
            "Could not \(what): `\(Self.commandLine(controlArguments + arguments))` exited with status "
            + "\(result.status): \(Self.message(result))"
        if let hint { message += " (\(hint))" }
        // tgtadm's ENOTCONN/ECONNREFUSED: nothing listens on the management channel.
        if result.stderr.contains("tgt daemon") || result.stderr.contains("can't connect") {
            message += ". Is tgtd running and listening on \(channel)?"
        }
        return AshlarError(.driverFailure, message)
    }

    private var controlArguments: [String] { (controlPort.map { ["-C", String($0)] } ?? []) + ["--lld", "iscsi"] }

    /// tgtadm's stderr in one line, or a note that it said nothing.
    private static func message(_ result: ToolResult) -> String {
        let text = result.stderr.split(whereSeparator: \.isNewline).joined(separator: "; ")
            .trimmingCharacters(in: .whitespaces)
        return text.isEmpty ? "(tgtadm printed no message)" : text
    }

    /// The command for messages, with CHAP secrets hidden.
    static func commandLine(_ arguments: [String]) -> String {
        var shown = ["tgtadm"]
        var hideNext = false
        for argument in arguments {
            shown.append(hideNext ? "<hidden>" : argument)
            hideNext = argument == "--password"
        }
        return shown.joined(separator: " ")
    }
}

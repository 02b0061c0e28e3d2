import AshlarCore
import Foundation
import AshlarTestSupport
import Testing

@testable import AshlarVolume

#if canImport(Glibc)
    import Glibc
#endif

/// An iSCSI initiator played by qemu-img (libiscsi): logins, writes and reads over the test's tgtd.
private struct Initiator {
    let portalPort: Int
    let qemuImg = ToolRunner.locate("qemu-img") ?? "qemu-img"

    /// qemu's iSCSI options for LUN 1 of `iqn`, logging in as `user`/`password` and, when given, as `name`.
    func options(_ iqn: String, _ credentials: CHAPCredentials?, name: String? = nil) -> String {
        var options = "driver=iscsi,transport=tcp,portal=127.0.0.1:\(portalPort),target=\(iqn),lun=1"
        if let credentials { options += ",user=\(credentials.user),password=\(credentials.password)" }
        if let name { options += ",initiator-name=\(name)" }
        return options
    }

    /// Logs in and reads the LUN's size; the result tells whether the login was accepted.
    func login(_ iqn: String, _ credentials: CHAPCredentials?, name: String? = nil) async throws -> ToolResult {
        try await ToolRunner.run(
            qemuImg, ["info", "--image-opts", options(iqn, credentials, name: name)], timeout: .seconds(30))
    }

    /// Writes `file` at the start of the LUN (`qemu-img convert -n` over an iscsi:// URL).
    func write(_ file: String, to iqn: String, _ credentials: CHAPCredentials?) async throws -> ToolResult {
        let auth = credentials.map { "\($0.user)%\($0.password)@" } ?? ""
        return try await ToolRunner.run(
            qemuImg,
            ["convert", "-n", "-f", "raw", "-O", "raw", file, "iscsi://\(auth)127.0.0.1:\(portalPort)/\(iqn)/1"],
            timeout: .seconds(60))
    }

    /// The first `count` bytes of the LUN, read over iSCSI into a file in `directory`.
    func read(_ iqn: String, _ credentials: CHAPCredentials?, count: Int, in directory: URL) async throws -> [UInt8] {
        let copy = directory.appendingPathComponent("read-\(UUID().uuidString).img").path
        defer { unlink(copy) }
        let result = try await ToolRunner.run(
            qemuImg, ["convert", "--image-opts", options(iqn, credentials), "-O", "raw", copy],
            timeout: .seconds(60))
        guard result.succeeded else { throw AshlarError(.internalError, "reading \(iqn) failed: \(result.stderr)") }
        return try prefix(of: copy, count: count)
    }
}

/// `count` bytes that differ by `seed`.
private func testPattern(_ seed: UInt8, count: Int = 4096) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(seed) &* 13 &+ ($0 >> 8)) }
}

private func prefix(of path: String, count: Int) throws -> [UInt8] {
    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    return [UInt8](try handle.read(upToCount: count) ?? Data())
}

/// A sparse 64 MiB volume file.
private func makeVolumeFile(_ directory: URL, _ name: String) throws -> String {
    let path = directory.appendingPathComponent(name).path
    guard FileManager.default.createFile(atPath: path, contents: nil), truncate(path, 64 << 20) == 0 else {
        throw AshlarError(.internalError, "cannot make \(path)")
    }
    return path
}

/// The CHAP accounts tgtd has, bound or not.
private func accounts(_ daemon: TestTgtd) async throws -> [String] {
    let result = try await ToolRunner.run(
        ToolRunner.locate("tgtadm") ?? "tgtadm",
        ["-C", String(daemon.controlPort), "--lld", "iscsi", "--op", "show", "--mode", "account"],
        timeout: .seconds(10))
    return TgtAdmOutput.parseAccounts(result.stdout)
}

@Suite(
    "TgtAdmTarget with a real tgtd", .serialized, .timeLimit(.minutes(3)),
    .enabled(
        if: TestTgtd.isAvailable,
        "needs root, tgtd/tgtadm (tgt) and qemu-img with iSCSI (qemu-utils, qemu-block-extra): scripts/setup-test-env"))
struct TgtAdmTargetTests {
    let config = ISCSIConfig()

    /// Runs `body` with a fresh tgtd, its helper, an initiator and a temporary directory; stops tgtd in any case.
    private func withTgtd(
        _ body: (TestTgtd, TgtAdmTarget, Initiator, URL) async throws -> Void
    ) async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let daemon = try await TestTgtd.start(logDirectory: directory)
        do {
            try await body(daemon, daemon.target, Initiator(portalPort: daemon.portalPort), directory)
        } catch {
            await daemon.stop()
            throw error
        }
        await daemon.stop()
    }

    /// An export of a new 64 MiB file `volume-<id>` with fresh CHAP credentials.
    private func newExport(
        _ id: String, in directory: URL, readOnly: Bool = false, config: ISCSIConfig? = nil
    )
        throws -> (ISCSIExport, CHAPCredentials)
    {
        let config = config ?? self.config
        let credentials = try #require(config.newCHAPCredentials())
        let export = ISCSIExport(
            iqn: config.iqn(forVolume: id), path: try makeVolumeFile(directory, "volume-\(id)"),
            chapUser: credentials.user, chapPassword: credentials.password, readOnly: readOnly)
        return (export, credentials)
    }

    @Test("a CHAP export serves its file: a 4 KiB pattern written over iSCSI lands in the backing file")
    func exportWriteRead() async throws {
        try await withTgtd { _, target, initiator, directory in
            let (export, credentials) = try newExport("a", in: directory)
            try await target.createExport(export)

            let state = try #require(try await target.exports()[export.iqn])
            #expect(state.matches(export))
            #expect(state.tid == 1)
            #expect(state.chapUser == credentials.user)
            #expect(state.allowsAnyInitiator && state.initiators.isEmpty)
            #expect(!state.readOnly)

            let data = testPattern(1)
            let source = directory.appendingPathComponent("pattern").path
            try Data(data).write(to: URL(fileURLWithPath: source))
            let written = try await initiator.write(source, to: export.iqn, credentials)
            #expect(written.succeeded, "\(written.stderr)")
            #expect(try prefix(of: export.path, count: 4096) == data)
            #expect(try await initiator.read(export.iqn, credentials, count: 4096, in: directory) == data)
            #expect(try #require(fileStat(export.path)).st_size == 64 << 20)
        }
    }

    @Test("a wrong password, another export's credentials and no credentials are refused at login")
    func loginRefused() async throws {
        try await withTgtd { _, target, initiator, directory in
            let (a, aCredentials) = try newExport("a", in: directory)
            let (b, bCredentials) = try newExport("b", in: directory)
            try await target.createExport(a)
            try await target.createExport(b)

            #expect(try await initiator.login(a.iqn, aCredentials).succeeded)
            #expect(try await initiator.login(b.iqn, bCredentials).succeeded)
            let wrong = CHAPCredentials(user: aCredentials.user, password: ISCSIConfig.generateCHAPSecret())
            for credentials in [wrong, bCredentials] {
                let refused = try await initiator.login(a.iqn, credentials)
                #expect(!refused.succeeded)
                #expect(refused.stderr.contains("Authentication failure"), "\(refused.stderr)")
            }
            #expect(!(try await initiator.login(a.iqn, nil).succeeded))
        }
    }

    @Test("removeExport ends logins and drops the account; a shared account stays while in use; absent is success")
    func remove() async throws {
        try await withTgtd { daemon, target, initiator, directory in
            let (export, credentials) = try newExport("a", in: directory)
            try await target.createExport(export)
            try await target.removeExport(iqn: export.iqn)

            let refused = try await initiator.login(export.iqn, credentials)
            #expect(!refused.succeeded)
            #expect(try await target.exports().isEmpty)
            #expect(try await accounts(daemon).isEmpty)
            try await target.removeExport(iqn: export.iqn)
            try await target.removeExport(iqn: "iqn.2010-10.org.openstack:volume-never")

            // chap_username/chap_password from the config: one account for every volume.
            let shared = ISCSIConfig(chapUsername: "ashlar-shared", chapPassword: "SharedSecret1234")
            let (b, sharedCredentials) = try newExport("b", in: directory, config: shared)
            let (c, _) = try newExport("c", in: directory, config: shared)
            try await target.createExport(b)
            try await target.createExport(c)
            try await target.removeExport(iqn: b.iqn)
            #expect(try await accounts(daemon) == ["ashlar-shared"])
            #expect(try await initiator.login(c.iqn, sharedCredentials).succeeded)
            try await target.removeExport(iqn: c.iqn)
            #expect(try await accounts(daemon).isEmpty)
        }
    }

    @Test("createExport is idempotent, picks one more than the highest tid, and repairs the account")
    func idempotent() async throws {
        try await withTgtd { daemon, target, initiator, directory in
            let (a, credentials) = try newExport("a", in: directory)
            try await target.createExport(a)
            try await target.createExport(a)
            var exports = try await target.exports()
            #expect(exports.count == 1)
            #expect(exports[a.iqn]?.tid == 1)
            #expect(exports[a.iqn]?.chapUsers == [credentials.user])
            #expect(try await accounts(daemon) == [credentials.user])
            #expect(try await initiator.login(a.iqn, credentials).succeeded)

            let (b, _) = try newExport("b", in: directory)
            let (c, _) = try newExport("c", in: directory)
            let (d, _) = try newExport("d", in: directory)
            try await target.createExport(b)
            try await target.createExport(c)
            try await target.removeExport(iqn: b.iqn)
            try await target.createExport(d)
            exports = try await target.exports()
            #expect(exports.mapValues(\.tid) == [a.iqn: 1, c.iqn: 3, d.iqn: 4])

            // Another user: the old account is unbound and deleted; the ACL is back as it was.
            let host = "iqn.1994-05.com.example:host1"
            try await target.allowInitiator(iqn: a.iqn, initiator: host)
            let other = try #require(config.newCHAPCredentials())
            var moved = a
            moved.chapUser = other.user
            moved.chapPassword = other.password
            try await target.createExport(moved)
            #expect(try await initiator.login(a.iqn, other, name: host).succeeded)
            #expect(!(try await initiator.login(a.iqn, credentials, name: host).succeeded))
            var state = try #require(try await target.exports()[a.iqn])
            #expect(state.chapUsers == [other.user])
            #expect(!state.allowsAnyInitiator && state.initiators == [host])
            #expect(try await !accounts(daemon).contains(credentials.user))

            // A new secret for a user already bound is not applied (tgtadm cannot change one) ...
            var renewed = moved
            renewed.chapPassword = ISCSIConfig.generateCHAPSecret()
            let renewedCredentials = CHAPCredentials(user: other.user, password: renewed.chapPassword!)
            try await target.createExport(renewed)
            #expect(try await initiator.login(a.iqn, other, name: host).succeeded)
            // ... until the export is made again.
            try await target.removeExport(iqn: a.iqn)
            try await target.createExport(renewed)
            #expect(try await initiator.login(a.iqn, renewedCredentials).succeeded)
            #expect(!(try await initiator.login(a.iqn, other).succeeded))

            // Extra accounts bound by hand (two, so one is not the last: tgtd 1.0.x would crash on a careless
            // unbind) go, and tgtd keeps answering; without CHAP asked, none stays.
            let tgtadm = ToolRunner.locate("tgtadm") ?? "tgtadm"
            let tid = String(try #require(try await target.exports()[a.iqn]).tid)
            for user in ["extra1", "extra2"] {
                let base = ["-C", String(daemon.controlPort), "--lld", "iscsi"]
                _ = try await ToolRunner.run(
                    tgtadm,
                    base + ["--op", "new", "--mode", "account", "--user", user, "--password", "ExtraSecret1234"],
                    timeout: .seconds(10))
                _ = try await ToolRunner.run(
                    tgtadm, base + ["--op", "bind", "--mode", "account", "--tid", tid, "--user", user],
                    timeout: .seconds(10))
            }
            #expect(try await target.exports()[a.iqn]?.chapUsers == [other.user, "extra1", "extra2"])
            try await target.createExport(renewed)
            state = try #require(try await target.exports()[a.iqn])
            #expect(state.chapUsers == [other.user] && state.allowsAnyInitiator)
            #expect(try await initiator.login(a.iqn, renewedCredentials).succeeded)
            #expect(
                !(try await initiator.login(a.iqn, CHAPCredentials(user: "extra1", password: "ExtraSecret1234"))
                    .succeeded))
            #expect(try await !accounts(daemon).contains("extra1"))

            var open = renewed
            open.chapUser = nil
            open.chapPassword = nil
            try await target.createExport(open)
            #expect(try await target.exports()[a.iqn]?.chapUsers == [])
            #expect(try await initiator.login(a.iqn, nil).succeeded)
            #expect(await daemon.target.checkReachable() == nil)
        }
    }

    @Test("after a tgtd restart exports() is empty, and createExport again serves the data (ensure_export)")
    func ensureExportAfterRestart() async throws {
        try await withTgtd { daemon, target, initiator, directory in
            let (export, credentials) = try newExport("a", in: directory)
            try await target.createExport(export)
            let data = testPattern(2)
            let source = directory.appendingPathComponent("pattern").path
            try Data(data).write(to: URL(fileURLWithPath: source))
            #expect(try await initiator.write(source, to: export.iqn, credentials).succeeded)

            try await daemon.restart()
            #expect(try await target.exports().isEmpty)
            #expect(!(try await initiator.login(export.iqn, credentials).succeeded))

            try await target.createExport(export)
            #expect(try await target.exports()[export.iqn]?.matches(export) == true)
            #expect(try await initiator.read(export.iqn, credentials, count: 4096, in: directory) == data)
        }
    }

    @Test("a read-only export refuses writes and serves reads; exporting it writable again allows writes")
    func readOnly() async throws {
        try await withTgtd { _, target, initiator, directory in
            let (export, credentials) = try newExport("ro", in: directory, readOnly: true)
            let original = testPattern(3)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: export.path))
            try handle.write(contentsOf: Data(original))
            try handle.close()
            try await target.createExport(export)
            #expect(try await target.exports()[export.iqn]?.readOnly == true)

            let source = directory.appendingPathComponent("pattern").path
            try Data(testPattern(4)).write(to: URL(fileURLWithPath: source))
            let refused = try await initiator.write(source, to: export.iqn, credentials)
            #expect(!refused.succeeded)
            #expect(refused.stderr.contains("write protected"), "\(refused.stderr)")
            #expect(try prefix(of: export.path, count: 4096) == original)
            #expect(try await initiator.read(export.iqn, credentials, count: 4096, in: directory) == original)

            var writable = export
            writable.readOnly = false
            try await target.createExport(writable)
            #expect(try await target.exports()[export.iqn]?.readOnly == false)
            #expect(try await initiator.write(source, to: export.iqn, credentials).succeeded)
            #expect(try prefix(of: export.path, count: 4096) == testPattern(4))
        }
    }

    @Test("checkReachable is nil while tgtd answers and a reason once it is gone")
    func reachable() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let daemon = try await TestTgtd.start(logDirectory: directory)
        let target = daemon.target
        #expect(await target.checkReachable() == nil)
        await daemon.stop()

        let reason = try #require(await target.checkReachable())
        #expect(reason.contains("tgtd is not running or not listening on control port \(daemon.controlPort)"))
        let error = await ashlarError {
            try await target.createExport(ISCSIExport(iqn: "iqn.x:y", path: "/x", chapUser: nil, chapPassword: nil))
        }
        #expect(error?.code == .driverFailure)
        #expect(error?.message.contains("Is tgtd running and listening on control port") == true)

        let missing = TgtAdmTarget(tgtadm: "/nonexistent/tgtadm")
        #expect(await missing.checkReachable()?.contains("install the tgt package") == true)
    }

    @Test("a createExport failing half-way (missing backing file) leaves no target and no account behind")
    func failedCreateLeavesNothing() async throws {
        try await withTgtd { daemon, target, _, directory in
            let credentials = try #require(config.newCHAPCredentials())
            let missing = directory.appendingPathComponent("volume-missing").path
            let export = ISCSIExport(
                iqn: config.iqn(forVolume: "missing"), path: missing, chapUser: credentials.user,
                chapPassword: credentials.password)
            let error = try #require(await ashlarError { try await target.createExport(export) })
            #expect(error.code == .driverFailure)
            #expect(error.message.contains("\(missing) does not exist"), "\(error.message)")
            #expect(error.message.contains("tgtadm: "), "tgtadm's own message is in it: \(error.message)")
            #expect(!error.message.contains(credentials.password))
            #expect(try await target.exports().isEmpty)
            #expect(try await accounts(daemon).isEmpty)
        }
    }

    @Test("iscsi_target_params are set on a new target, data moves under them, and a value tgtd refuses leaves nothing")
    func targetParameters() async throws {
        try await withTgtd { daemon, _, initiator, directory in
            let target = TgtAdmTarget(controlPort: daemon.controlPort, targetParameters: ISCSITargetParameter.defaults)
            let (export, credentials) = try newExport("fast", in: directory)
            try await target.createExport(export)
            let tid = try #require(try await target.exports()[export.iqn]).tid
            let shown = try await ToolRunner.run(
                ToolRunner.locate("tgtadm") ?? "tgtadm",
                ["-C", String(daemon.controlPort), "--lld", "iscsi", "--op", "show", "--mode", "target", "--tid", String(tid)],
                timeout: .seconds(10))
            let lines = Set(shown.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
            for parameter in ISCSITargetParameter.defaults {
                #expect(lines.contains(parameter.description), "\(parameter) not in: \(shown.stdout)")
            }
            // 1 MiB: several of the larger bursts and segments, written and read back over iSCSI.
            let data = testPattern(5, count: 1 << 20)
            let source = directory.appendingPathComponent("pattern").path
            try Data(data).write(to: URL(fileURLWithPath: source))
            let written = try await initiator.write(source, to: export.iqn, credentials)
            #expect(written.succeeded, "\(written.stderr)")
            #expect(try prefix(of: export.path, count: 1 << 20) == data)
            #expect(try await initiator.read(export.iqn, credentials, count: 1 << 20, in: directory) == data)

            let refused = TgtAdmTarget(
                controlPort: daemon.controlPort, targetParameters: [.init(name: "MaxBurstLength", value: "abc")])
            let (bad, badCredentials) = try newExport("refused", in: directory)
            let error = try #require(await ashlarError { try await refused.createExport(bad) })
            #expect(error.code == .driverFailure)
            #expect(error.message.contains("MaxBurstLength=abc") && error.message.contains("iscsi_target_params"))
            #expect(!error.message.contains(badCredentials.password))
            #expect(try await target.exports().keys.sorted() == [export.iqn])
            #expect(try await accounts(daemon) == [credentials.user])
        }
    }

    @Test("ACL: a named initiator replaces ALL, nil reopens, the last one leaves nobody; CHAP still applies")
    func initiatorACL() async throws {
        try await withTgtd { _, target, initiator, directory in
            let (export, credentials) = try newExport("acl", in: directory)
            let iqn = export.iqn
            let host1 = "iqn.1994-05.com.example:host1"
            let host2 = "iqn.1994-05.com.example:host2"
            try await target.createExport(export)
            func admits(_ name: String, _ login: CHAPCredentials? = nil) async throws -> Bool {
                try await initiator.login(iqn, login ?? credentials, name: name).succeeded
            }
            #expect(try await admits(host1))
            #expect(try await admits(host2))

            try await target.allowInitiator(iqn: iqn, initiator: host1)
            var state = try #require(try await target.exports()[iqn])
            #expect(!state.allowsAnyInitiator && state.initiators == [host1])
            #expect(try await admits(host1))
            let outside = try await initiator.login(iqn, credentials, name: host2)
            #expect(!outside.succeeded)
            #expect(outside.stderr.contains("Target not found"), "\(outside.stderr)")
            // Both gates: on the ACL, but with the wrong secret.
            let wrong = CHAPCredentials(user: credentials.user, password: "WrongWrongWrong1")
            #expect(!(try await admits(host1, wrong)))

            try await target.allowInitiator(iqn: iqn, initiator: host2)
            try await target.allowInitiator(iqn: iqn, initiator: host2)
            #expect(try await admits(host1))
            #expect(try await admits(host2))
            try await target.disallowInitiator(iqn: iqn, initiator: host1)
            #expect(try await !admits(host1))
            #expect(try await admits(host2))

            try await target.allowInitiator(iqn: iqn, initiator: nil)
            #expect(try await admits(host1))
            state = try #require(try await target.exports()[iqn])
            #expect(state.allowsAnyInitiator && state.initiators == [host2])
            try await target.disallowInitiator(iqn: iqn, initiator: nil)
            #expect(try await !admits(host1))
            try await target.disallowInitiator(iqn: iqn, initiator: host2)
            #expect(try await !admits(host2))
            #expect(try await target.exports()[iqn]?.initiators == [])

            // createExport again keeps the ACL the connectors made.
            try await target.createExport(export)
            #expect(try await target.exports()[iqn]?.allowsAnyInitiator == false)

            try await target.disallowInitiator(iqn: "iqn.2010-10.org.openstack:volume-none", initiator: host1)
            let absent = await ashlarError {
                try await target.allowInitiator(iqn: "iqn.2010-10.org.openstack:volume-none", initiator: host1)
            }
            #expect(absent?.message.contains("no such target") == true)
            #expect(await ashlarError { try await target.allowInitiator(iqn: iqn, initiator: "ALL") } != nil)
        }
    }
}

@Suite("iSCSI target helpers without tgtd")
struct ISCSITargetUnitTests {
    static let showOutput = """
        Target 1: iqn.2010-10.org.openstack:volume-a
            System information:
                Driver: iscsi
                State: ready
            I_T nexus information:
                I_T nexus: 1
                    Initiator: iqn.2008-11.org.linux-kvm alias: none
                    Connection: 0
                        IP Address: 127.0.0.1
            LUN information:
                LUN: 0
                    Type: controller
                    Readonly: No
                    Backing store type: null
                    Backing store path: None
                    Backing store flags: 
                LUN: 1
                    Type: disk
                    Size: 67 MB, Block size: 512
                    Readonly: Yes
                    Backing store type: rdwr
                    Backing store path: /var/lib/ashlar/volume-a
                    Backing store flags: 
            Account information:
                ashlar-user
                mutual (outgoing)
            ACL information:
                ALL
                iqn.1994-05.com.example:host1
        Target 12: iqn.2010-10.org.openstack:volume-b
            System information:
                Driver: iscsi
                State: ready
            I_T nexus information:
            LUN information:
                LUN: 0
                    Type: controller
                    Backing store path: None
            Account information:
            ACL information:

        """

    @Test("tgtadm's target listing parses into export states")
    func parseTargets() {
        let targets = TgtAdmOutput.parseTargets(Self.showOutput)
        #expect(targets.map(\.tid) == [1, 12])
        let a = targets[0].state
        #expect(a.iqn == "iqn.2010-10.org.openstack:volume-a")
        #expect(a.path == "/var/lib/ashlar/volume-a")
        #expect(a.readOnly)
        #expect(a.chapUsers == ["ashlar-user"])
        #expect(targets[0].outgoingAccounts == ["mutual"])
        #expect(a.allowsAnyInitiator && a.initiators == ["iqn.1994-05.com.example:host1"])
        #expect(a.connectedInitiators == ["iqn.2008-11.org.linux-kvm"])
        let b = targets[1].state
        #expect(b.path == nil && !b.readOnly && b.chapUsers.isEmpty && !b.allowsAnyInitiator && b.initiators.isEmpty)
        #expect(TgtAdmOutput.parseTargets("").isEmpty)
    }

    @Test("account listing and the iscsi driver state parse")
    func parseAccountsAndSystem() {
        #expect(TgtAdmOutput.parseAccounts("Account list:\n    ub\n    ua\n") == ["ub", "ua"])
        #expect(TgtAdmOutput.parseAccounts("Account list:\n").isEmpty)
        let system = "System:\n    State: ready\nLLDs:\n    iscsi: ready\n    iser: error\nBacking stores:\n    rdwr\n"
        #expect(TgtAdmOutput.driverState(system) == "ready")
        #expect(TgtAdmOutput.driverState(system, lld: "iser") == "error")
    }

    @Test("ISCSIConfig: Cinder's defaults, IQNs, portals and generated CHAP credentials")
    func config() throws {
        let config = ISCSIConfig()
        #expect(config.targetPort == 3260 && config.targetPrefix == "iqn.2010-10.org.openstack:")
        #expect(config.useChapAuth && config.iscsiTargetFlags.isEmpty && config.tgtControlPort == nil)
        #expect(config.iqn(forVolume: "abc") == "iqn.2010-10.org.openstack:volume-abc")
        #expect(config.portal == "127.0.0.1:3260")
        #expect(ISCSIConfig(targetIPAddress: "fd00::1", targetPort: 3261).portal == "[fd00::1]:3261")

        let secrets = (0..<50).map { _ in ISCSIConfig.generateCHAPSecret() }
        #expect(Set(secrets).count == 50)
        #expect(secrets.allSatisfy { $0.count == 16 && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } })
        let user = ISCSIConfig.generateCHAPUser()
        #expect(user.hasPrefix("ashlar-") && user.count == 23)

        let generated = try #require(config.newCHAPCredentials())
        #expect(generated.user.hasPrefix("ashlar-") && generated.password.count == 16)
        let fixed = ISCSIConfig(chapUsername: "u", chapPassword: "p").newCHAPCredentials()
        #expect(fixed == CHAPCredentials(user: "u", password: "p"))
        #expect(ISCSIConfig(useChapAuth: false).newCHAPCredentials() == nil)
    }

    @Test("iscsi_target_params: faster defaults, Name=Value lists, tgtd's names only, and the config error")
    func targetParameterLists() throws {
        #expect(ISCSIConfig().targetParameters == ISCSITargetParameter.defaults)
        #expect(ISCSITargetParameter.defaults.map(\.description).contains("MaxBurstLength=16776192"))
        #expect(try ISCSITargetParameter.parse("") == [])
        #expect(try ISCSITargetParameter.parse(" ") == [])
        #expect(
            try ISCSITargetParameter.parse("maxburstlength = 1048576, InitialR2T=No")
                == [.init(name: "MaxBurstLength", value: "1048576"), .init(name: "InitialR2T", value: "No")])
        for (list, says) in [
            ("MaxBurstLength", "is not Name=Value"), ("MaxBurstLength=", "is not Name=Value"),
            ("Speed=9", "'Speed' is not a tgtd target parameter"), ("MaxBurstLength=1 2", "may have only"),
            ("InitialR2T=No,,", "is not Name=Value"), ("InitialR2T=No,initialr2t=Yes", "InitialR2T is given twice"),
        ] {
            let error = #expect(throws: ISCSITargetParameter.Invalid.self, "\(list)") {
                try ISCSITargetParameter.parse(list)
            }
            #expect(error?.message.contains(says) == true, "\(list): \(error?.message ?? "")")
        }
        let text = "[DEFAULT]\nenabled_backends = a, b\n[a]\niscsi_target_params =\n[b]\niscsi_target_params = Speed=9\n"
        let backends = try AshlarConfig.make(files: [try INIFile(text: text, path: "/etc/ashlar.conf")]).backends
        #expect(try ISCSIConfig(backend: backends[0]).targetParameters == [])
        let error = #expect(throws: ConfigError.self) { try ISCSIConfig(backend: backends[1]) }
        #expect(error?.description.contains("iscsi_target_params") == true, "\(String(describing: error))")
        #expect(error?.description.contains("/etc/ashlar.conf") == true, "\(String(describing: error))")
    }

    @Test("exports are checked before tgtadm runs; secrets never show in command lines")
    func validation() async {
        let target = TgtAdmTarget(tgtadm: "/nonexistent/tgtadm")
        for export in [
            ISCSIExport(iqn: "", path: "/v", chapUser: nil, chapPassword: nil),
            ISCSIExport(iqn: "iqn.x:a", path: "relative", chapUser: nil, chapPassword: nil),
            ISCSIExport(iqn: "iqn.x:a", path: "/v", chapUser: "u", chapPassword: nil),
            ISCSIExport(iqn: "iqn.x:a", path: "/v", chapUser: "u", chapPassword: "has space"),
        ] {
            let error = await ashlarError { try await target.createExport(export) }
            #expect(error?.code == .driverFailure)
            #expect(error?.message.hasPrefix("Cannot export") == true, "\(error?.message ?? "")")
        }
        #expect(
            TgtAdmTarget.commandLine(["--op", "new", "--mode", "account", "--user", "u", "--password", "s3cret"])
                == "tgtadm --op new --mode account --user u --password <hidden>")
    }

    @Test("FakeISCSITarget keeps exports like tgtd, records calls and fails on demand")
    func fake() async throws {
        let fake = FakeISCSITarget()
        let export = ISCSIExport(iqn: "iqn.x:a", path: "/v/a", chapUser: "u", chapPassword: "p")
        try await fake.createExport(export)
        try await fake.createExport(export)
        try await fake.allowInitiator(iqn: export.iqn, initiator: "iqn.h:1")
        var state = try #require(try await fake.exports()[export.iqn])
        #expect(state.tid == 1 && state.matches(export) && !state.allowsAnyInitiator && state.initiators == ["iqn.h:1"])

        fake.failNext(.createExport)
        #expect(await ashlarError { try await fake.createExport(export) }?.code == .driverFailure)
        try await fake.createExport(export)
        fake.reachable = false
        #expect(await fake.checkReachable() != nil)
        #expect(await ashlarError { try await fake.removeExport(iqn: export.iqn) } != nil)
        fake.reachable = true
        #expect(await fake.checkReachable() == nil)

        fake.simulateRestart()
        #expect(try await fake.exports().isEmpty)
        try await fake.createExport(export)
        state = try #require(fake.current[export.iqn])
        #expect(state.allowsAnyInitiator)
        #expect(fake.calls.first == .createExport(export))
        #expect(fake.calls.contains(.allowInitiator(iqn: export.iqn, initiator: "iqn.h:1")))
    }
}

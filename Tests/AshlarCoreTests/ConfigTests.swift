import Foundation
import Testing

@testable import AshlarCore

/// Builds a config from in-memory files with a fixed working directory and machine name.
private func config(
    _ files: [(path: String, text: String)],
    overrides: AshlarConfig.Overrides = .init(),
    cwd: String = "/srv/work",
    hostName: String = "node1.example.com"
) throws -> AshlarConfig {
    var parsed: [INIFile] = []
    for file in files {
        parsed.append(try INIFile(text: file.text, path: file.path))
    }
    return try AshlarConfig.make(
        files: parsed, overrides: overrides, currentDirectory: cwd, machineHostName: { hostName }
    )
}

private func config(_ text: String, path: String = "ashlar.conf") throws -> AshlarConfig {
    try config([(path: path, text: text)])
}

/// The error building a config from `text` gives, or nil if it builds.
private func configError(
    _ text: String, path: String = "ashlar.conf", overrides: AshlarConfig.Overrides = .init()
) -> ConfigError? {
    do {
        let file = try INIFile(text: text, path: path)
        _ = try AshlarConfig.make(
            files: [file], overrides: overrides, currentDirectory: "/srv/work", machineHostName: { "node1" }
        )
        return nil
    } catch {
        return error
    }
}

/// A temporary directory removed when the value is no longer needed.
private struct TemporaryDirectory {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("ashlar-config-\(UUID().uuidString)")

    init() throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let file = url.appendingPathComponent(name)
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}

/// The devstack-like lab the integration tests run against.
private let seedLabConf = """
    [DEFAULT]
    enabled_backends = lvmdriver-b21,lvmdriver-b22
    storage_availability_zone = az1
    debug = True
    transport_url = rabbit://stackrabbit:secret@10.0.0.2:5672/

    [database]
    connection = sqlite:///$state_path/cinder.sqlite

    [lvmdriver-b21]
    volume_backend_name = lvmbackend
    volume_group = stack-volumes-lvmdriver-b21
    target_helper = lioadm

    [lvmdriver-b22]
    volume_backend_name = lvmbackend
    volume_group = stack-volumes-lvmdriver-b22
    target_helper = lioadm

    [keystone_authtoken]
    auth_url = http://10.0.0.2/identity
    """

@Suite("AshlarConfig")
struct ConfigTests {
    // MARK: Defaults

    @Test func defaultsWithoutFiles() throws {
        let c = try config([])
        #expect(c.statePath == "/srv/work/ashlar-data")
        #expect(c.host == "node1")
        #expect(c.listenAddress == "127.0.0.1")
        #expect(c.listenPort == 8776)
        #expect(c.authStrategy == "noauth")
        #expect(c.enabledBackends == ["file-1"])
        #expect(c.defaultVolumeType == "__DEFAULT__")
        #expect(c.storageAvailabilityZone == "nova")
        #expect(c.defaultAvailabilityZone == "nova")
        #expect(c.reportInterval == 10)
        #expect(c.serviceDownTime == 60)
        #expect(c.osapiMaxLimit == 1000)
        #expect(c.osapiMaxRequestBodySize == 114_688)
        #expect(c.databaseConnection == "sqlite:////srv/work/ashlar-data/ashlar.sqlite")
        #expect(c.warnings.isEmpty)

        #expect(c.scheduler.defaultFilters == ["AvailabilityZoneFilter", "CapacityFilter", "CapabilitiesFilter"])
        #expect(c.scheduler.defaultWeighers == ["CapacityWeigher"])
        #expect(c.scheduler.maxAttempts == 3)
        #expect(c.scheduler.capacityWeightMultiplier == 1.0)
        #expect(c.scheduler.allocatedCapacityWeightMultiplier == -1.0)
        #expect(c.scheduler.volumeNumberMultiplier == -1.0)
        #expect(c.scheduler.driverInitWaitTime == 60)

        #expect(c.quotas.volumes == 10)
        #expect(c.quotas.snapshots == 10)
        #expect(c.quotas.gigabytes == 1000)
        #expect(c.quotas.backups == 10)
        #expect(c.quotas.backupGigabytes == 1000)
        #expect(c.quotas.groups == 10)
        #expect(c.quotas.perVolumeSizeLimit == -1)
        #expect(c.quotas.noSnapshotGigabytes == false)

        let backend = try #require(c.backends.first)
        #expect(c.backends.count == 1)
        #expect(backend.name == "file-1")
        #expect(backend.volumeDriver == "file")
        #expect(backend.volumeBackendName == "file-1")
        #expect(backend.fileVolumeDir == "/srv/work/ashlar-data/volumes")
        #expect(backend.fileCapacityGB == nil)
        #expect(backend.backendHost == nil)
        #expect(backend.backendAvailabilityZone == nil)
        #expect(backend.reservedPercentage == 0)
        #expect(backend.maxOverSubscriptionRatio == 20.0)
        #expect(backend.extraCapabilities.isEmpty)
        #expect(backend.options.isEmpty)
        #expect(backend.host == "node1@file-1")
    }

    @Test func publicMakeUsesTheWorkingDirectoryAndMachineName() throws {
        let c = try AshlarConfig.make(files: [])
        let cwd = FileManager.default.currentDirectoryPath
        #expect(c.statePath.hasPrefix("/"))
        #expect(c.statePath.hasSuffix("/ashlar-data"))
        #expect(c.statePath == AshlarConfig.absolutePath("ashlar-data", relativeTo: cwd))
        #expect(!c.host.isEmpty)
        #expect(c.host == AshlarConfig.shortHostName(ProcessInfo.processInfo.hostName))
    }

    @Test func shortHostNameDropsTheDomainButKeepsAddresses() {
        #expect(AshlarConfig.shortHostName("node1.example.com") == "node1")
        #expect(AshlarConfig.shortHostName("node1") == "node1")
        #expect(AshlarConfig.shortHostName("10.0.0.5") == "10.0.0.5")
        #expect(AshlarConfig.shortHostName("") == "localhost")
    }

    @Test func explicitHostIsUsedAsIs() throws {
        let c = try config("[DEFAULT]\nhost = storage.example.com\n")
        #expect(c.host == "storage.example.com")
        #expect(c.backends.first?.host == "storage.example.com@file-1")
    }

    @Test func relativeStatePathIsMadeAbsoluteAgainstTheWorkingDirectory() throws {
        let c = try config("[DEFAULT]\nstate_path = ../data/./ashlar\n")
        #expect(c.statePath == "/srv/data/ashlar")
        #expect(c.databaseConnection == "sqlite:////srv/data/ashlar/ashlar.sqlite")
        #expect(c.backends.first?.fileVolumeDir == "/srv/data/ashlar/volumes")
    }

    // MARK: The seed lab

    @Test func seedLab() throws {
        let c = try config(seedLabConf, path: "/etc/ashlar/ashlar.conf")
        #expect(c.enabledBackends == ["lvmdriver-b21", "lvmdriver-b22"])
        #expect(c.storageAvailabilityZone == "az1")
        #expect(c.defaultAvailabilityZone == "az1")
        #expect(c.databaseConnection == "sqlite:////srv/work/ashlar-data/cinder.sqlite")
        // Read out first: `c` itself inside this #expect's condition and comment crashed (Swift 6.3.1).
        let warnings = c.warnings
        #expect(
            warnings.isEmpty, "tolerated cinder options and foreign sections must not warn: \(warnings)")

        #expect(c.backends.map(\.name) == ["lvmdriver-b21", "lvmdriver-b22"])
        #expect(c.backends.map(\.volumeBackendName) == ["lvmbackend", "lvmbackend"])
        #expect(c.backends.map(\.volumeDriver) == ["file", "file"])
        #expect(c.backends.map(\.host) == ["node1@lvmdriver-b21", "node1@lvmdriver-b22"])
        #expect(c.backends.map(\.fileVolumeDir) == [
            "/srv/work/ashlar-data/volumes/lvmdriver-b21",
            "/srv/work/ashlar-data/volumes/lvmdriver-b22",
        ])
        #expect(c.backends[0].options["volume_group"] == "stack-volumes-lvmdriver-b21")
        #expect(c.backends[1].options["target_helper"] == "lioadm")
        #expect(c.backends[1].settings["volume_group"]?.line == 17)
        #expect(c.backends[1].settings["volume_group"]?.file == "/etc/ashlar/ashlar.conf")
    }

    @Test func enabledBackendWithoutASectionGetsDefaults() throws {
        let c = try config("[DEFAULT]\nenabled_backends = a, b\n[a]\nfile_capacity_gb = 5\n")
        #expect(c.enabledBackends == ["a", "b"])
        #expect(c.backends.map(\.name) == ["a", "b"])
        #expect(c.backends[0].fileCapacityGB == 5)
        #expect(c.backends[1].fileCapacityGB == nil)
        #expect(c.backends[1].volumeBackendName == "b")
        #expect(c.backends[1].fileVolumeDir == "/srv/work/ashlar-data/volumes/b")
    }

    @Test func loneBackendNotNamedFile1GetsItsOwnDirectory() throws {
        let c = try config("[DEFAULT]\nenabled_backends = fast\n")
        #expect(c.backends.map(\.fileVolumeDir) == ["/srv/work/ashlar-data/volumes/fast"])
    }

    @Test func emptyEnabledBackendsMeansTheDefaultBackend() throws {
        let c = try config("[DEFAULT]\nenabled_backends =\n")
        #expect(c.enabledBackends == ["file-1"])
    }

    @Test func enabledBackendsMaySpanContinuationLines() throws {
        let c = try config("""
            [DEFAULT]
            # two backends, one per line
            enabled_backends = a,
                b
            ; scheduler filters, also wrapped
            scheduler_default_filters = CapacityFilter,
              AvailabilityZoneFilter
            """)
        #expect(c.enabledBackends == ["a", "b"])
        #expect(c.scheduler.defaultFilters == ["CapacityFilter", "AvailabilityZoneFilter"])
    }

    // MARK: Layering

    @Test func laterFilesWinPerOption() throws {
        let c = try config([
            (path: "base.conf", text: """
                [DEFAULT]
                osapi_volume_listen_port = 9000
                report_interval = 20
                osapi_max_limit = not-a-number
                [file-1]
                reserved_percentage = 5
                file_capacity_gb = 100
                """),
            (path: "site.conf", text: """
                [DEFAULT]
                osapi_volume_listen_port = 9100
                osapi_max_limit = 50
                [file-1]
                reserved_percentage = 10
                """),
        ])
        #expect(c.listenPort == 9100)
        #expect(c.reportInterval == 20)
        #expect(c.osapiMaxLimit == 50, "a bad value replaced by a later file is never read")
        #expect(c.backends[0].reservedPercentage == 10)
        #expect(c.backends[0].fileCapacityGB == 100)
        #expect(c.backends[0].settings["reserved_percentage"]?.file == "site.conf")
    }

    @Test func errorNamesTheFileTheWinningValueCameFrom() throws {
        do {
            _ = try config([
                (path: "base.conf", text: "[DEFAULT]\nreport_interval = 5\n"),
                (path: "site.conf", text: "[DEFAULT]\n\nreport_interval = soon\n"),
            ])
            Issue.record("expected an error")
        } catch let error as ConfigError {
            #expect(error.file == "site.conf")
            #expect(error.line == 3)
            #expect(error.description.contains("site.conf"))
        }
    }

    @Test func overridesWinOverFiles() throws {
        let c = try config(
            [(path: "ashlar.conf", text: """
                [DEFAULT]
                state_path = /var/lib/ashlar
                osapi_volume_listen = 0.0.0.0
                osapi_volume_listen_port = 9000
                """)],
            overrides: .init(statePath: "data", listenAddress: "::1", listenPort: 0)
        )
        #expect(c.statePath == "/srv/work/data")
        #expect(c.listenAddress == "::1")
        #expect(c.listenPort == 0)
        #expect(c.databaseConnection == "sqlite:////srv/work/data/ashlar.sqlite")
        #expect(c.backends.first?.fileVolumeDir == "/srv/work/data/volumes")
    }

    @Test func filesAreUsedWhenOverridesAreUnset() throws {
        let c = try config(
            [(path: "ashlar.conf", text: "[DEFAULT]\nosapi_volume_listen = 0.0.0.0\nosapi_volume_listen_port = 9000\n")],
            overrides: .init(statePath: "/tmp/x")
        )
        #expect(c.statePath == "/tmp/x")
        #expect(c.listenAddress == "0.0.0.0")
        #expect(c.listenPort == 9000)
    }

    @Test func outOfRangePortOverrideIsAnError() throws {
        let error = try #require(configError("[DEFAULT]\n", overrides: .init(listenPort: 70_000)))
        #expect(error.code == .invalidValue)
        #expect(error.option == "osapi_volume_listen_port")
        #expect(error.description.contains("70000"))
    }

    // MARK: Backend options

    @Test func backendOptionsFallBackToBackendDefaults() throws {
        let c = try config("""
            [DEFAULT]
            enabled_backends = a, b
            [backend_defaults]
            reserved_percentage = 7
            file_capacity_gb = 50
            target_helper = tgtadm
            [a]
            reserved_percentage = 3
            """)
        #expect(c.backends[0].reservedPercentage == 3)
        #expect(c.backends[0].fileCapacityGB == 50)
        #expect(c.backends[1].reservedPercentage == 7)
        #expect(c.backends[0].options["target_helper"] == "tgtadm")
        #expect(c.backends[0].options["reserved_percentage"] == "3")
        #expect(c.backends[0].settings["file_capacity_gb"]?.section == "backend_defaults")
    }

    @Test func overSubscriptionRatioFallsBackToDefaultSection() throws {
        let c = try config("""
            [DEFAULT]
            enabled_backends = a, b, c
            max_over_subscription_ratio = 4.5
            [backend_defaults]
            max_over_subscription_ratio = 3
            [a]
            max_over_subscription_ratio = 1.5
            """)
        #expect(c.backends.map(\.maxOverSubscriptionRatio) == [1.5, 3.0, 3.0])

        let onlyDefault = try config("[DEFAULT]\nmax_over_subscription_ratio = 4.5\n")
        #expect(onlyDefault.backends.first?.maxOverSubscriptionRatio == 4.5)
    }

    @Test(arguments: ["file", "FILE", "ashlar.volume.drivers.file.FileDriver", "cinder.volume.drivers.file.FileDriver"])
    func fileDriverSpellingsAreNormalised(driver: String) throws {
        let c = try config("[file-1]\nvolume_driver = \(driver)\n")
        #expect(c.backends.first?.volumeDriver == "file")
    }

    @Test func fileVolumeDirIsMadeAbsoluteAndExpandsStatePath() throws {
        let c = try config("""
            [DEFAULT]
            state_path = /var/lib/ashlar
            enabled_backends = a, b
            [a]
            file_volume_dir = $state_path/fast
            [b]
            file_volume_dir = slow/../slow-disks
            """)
        #expect(c.backends.map(\.fileVolumeDir) == ["/var/lib/ashlar/fast", "/srv/work/slow-disks"])
    }

    @Test func twoBackendsSharingADirectoryIsAnError() throws {
        let error = try #require(configError("""
            [DEFAULT]
            enabled_backends = a, b
            [a]
            file_volume_dir = /data/volumes
            [b]
            file_volume_dir = /data/volumes/
            """))
        #expect(error.code == .invalidValue)
        #expect(error.section == "b")
        #expect(error.option == "file_volume_dir")
        #expect(error.description.contains("'a'"))
    }

    @Test func backendHostAndZoneAreRead() throws {
        let c = try config("""
            [DEFAULT]
            host = node1
            storage_availability_zone = az1
            [file-1]
            backend_host = shared
            backend_availability_zone = az2
            """)
        let backend = try #require(c.backends.first)
        #expect(backend.backendHost == "shared")
        #expect(backend.backendAvailabilityZone == "az2")
        #expect(backend.host == "shared@file-1")
        #expect(c.storageAvailabilityZone == "az1")
    }

    @Test func extraCapabilitiesValuesAreStringified() throws {
        let c = try config("""
            [file-1]
            extra_capabilities = {"thin_provisioning": true, "tier": "gold", "iops": 500, "ratio": 1.5, "tags": ["a", "b"]}
            """)
        #expect(c.backends.first?.extraCapabilities == [
            "thin_provisioning": "true", "tier": "gold", "iops": "500", "ratio": "1.5", "tags": "[\"a\",\"b\"]",
        ])
    }

    @Test func quotedJSONIsUnquotedFirst() throws {
        let c = try config("[file-1]\nextra_capabilities = '{\"tier\": \"gold\"}'\n")
        #expect(c.backends.first?.extraCapabilities == ["tier": "gold"])
    }

    @Test func driverFunctionsAreReadPerBackendWithQuotesStripped() throws {
        let c = try config("""
            [DEFAULT]
            enabled_backends = a, b, c, d
            [backend_defaults]
            goodness_function = "50"
            [a]
            filter_function = "volume.size < 50"
            goodness_function = 'stats.free_capacity_gb > 10 ? 80 : 20'
            [b]
            filter_function = stats.storage_protocol == 'iscsi'
            [c]
            filter_function =
            goodness_function = ""
            """)
        #expect(c.backends.map(\.filterFunction) == [
            "volume.size < 50", "stats.storage_protocol == 'iscsi'", nil, nil,
        ])
        #expect(c.backends.map(\.goodnessFunction) == ["stats.free_capacity_gb > 10 ? 80 : 20", "50", nil, "50"])
        let warnings = c.warnings
        #expect(warnings.isEmpty, "\(warnings)")
        #expect(AshlarConfig.backendOptions.isSuperset(of: ["filter_function", "goodness_function"]))
        #expect(AshlarConfig.toleratedOptions.isDisjoint(with: ["filter_function", "goodness_function"]))
    }

    @Test func backendReadsBooleansAndIntegersFromRawOptions() throws {
        let c = try config("[file-1]\nuse_chap_auth = Yes\ntarget_port = 3261\n")
        let backend = try #require(c.backends.first)
        #expect(try backend.bool("use_chap_auth", default: false) == true)
        #expect(try backend.bool("missing", default: true) == true)
        #expect(try backend.int("target_port", default: 3260, in: 1...65535) == 3261)
        #expect(try backend.string("target_helper", default: "lioadm") == "lioadm")
    }

    @Test func parseBoolAcceptsOsloSpellings() {
        for text in ["true", "TRUE", "Yes", "on", "1", " True "] {
            #expect(AshlarConfig.parseBool(text) == true, "\(text)")
        }
        for text in ["false", "False", "NO", "off", "0"] {
            #expect(AshlarConfig.parseBool(text) == false, "\(text)")
        }
        for text in ["", "maybe", "2", "y", "t"] {
            #expect(AshlarConfig.parseBool(text) == nil, "\(text)")
        }
    }

    @Test func quotaOptionsAreRead() throws {
        let c = try config("""
            [DEFAULT]
            quota_volumes = 3
            quota_gigabytes = -1
            per_volume_size_limit = 50
            no_snapshot_gb_quota = True
            """)
        #expect(c.quotas.volumes == 3)
        #expect(c.quotas.gigabytes == -1)
        #expect(c.quotas.perVolumeSizeLimit == 50)
        #expect(c.quotas.noSnapshotGigabytes == true)
        #expect(c.quotas.limits["per_volume_gigabytes"] == 50)
        #expect(c.warnings.isEmpty)
        #expect(try config("[DEFAULT]\nno_snapshot_gb_quota = off").quotas.noSnapshotGigabytes == false)
    }

    // MARK: Bad values

    struct BadValue: Sendable, CustomTestStringConvertible {
        var text: String
        var section: String
        var option: String
        var value: String
        var code: ConfigError.Code = .invalidValue
        var testDescription: String { "[\(section)] \(option) = \(value)" }
    }

    static let badValues: [BadValue] = [
        BadValue(text: "[DEFAULT]\nosapi_volume_listen_port = abc", section: "DEFAULT",
                 option: "osapi_volume_listen_port", value: "abc"),
        BadValue(text: "[DEFAULT]\nosapi_volume_listen_port = 65536", section: "DEFAULT",
                 option: "osapi_volume_listen_port", value: "65536"),
        BadValue(text: "[DEFAULT]\nreport_interval = 0", section: "DEFAULT", option: "report_interval", value: "0"),
        BadValue(text: "[DEFAULT]\nservice_down_time = -5", section: "DEFAULT", option: "service_down_time", value: "-5"),
        BadValue(text: "[DEFAULT]\nosapi_max_limit = 1.5", section: "DEFAULT", option: "osapi_max_limit", value: "1.5"),
        BadValue(text: "[DEFAULT]\nosapi_max_request_body_size = 0", section: "DEFAULT",
                 option: "osapi_max_request_body_size", value: "0"),
        BadValue(text: "[DEFAULT]\nquota_volumes = -2", section: "DEFAULT", option: "quota_volumes", value: "-2"),
        BadValue(text: "[DEFAULT]\nper_volume_size_limit = big", section: "DEFAULT",
                 option: "per_volume_size_limit", value: "big"),
        BadValue(text: "[DEFAULT]\nno_snapshot_gb_quota = sometimes", section: "DEFAULT",
                 option: "no_snapshot_gb_quota", value: "sometimes"),
        BadValue(text: "[DEFAULT]\nscheduler_max_attempts = 0", section: "DEFAULT",
                 option: "scheduler_max_attempts", value: "0"),
        BadValue(text: "[DEFAULT]\ncapacity_weight_multiplier = heavy", section: "DEFAULT",
                 option: "capacity_weight_multiplier", value: "heavy"),
        BadValue(text: "[DEFAULT]\nauth_strategy = keystone", section: "DEFAULT", option: "auth_strategy",
                 value: "keystone", code: .unsupported),
        BadValue(text: "[DEFAULT]\nenabled_backends = a, a", section: "DEFAULT", option: "enabled_backends", value: "a"),
        BadValue(text: "[DEFAULT]\nenabled_backends = a@b", section: "DEFAULT", option: "enabled_backends", value: "a@b"),
        BadValue(text: "[DEFAULT]\nhost = node@1", section: "DEFAULT", option: "host", value: "node@1"),
        BadValue(text: "[DEFAULT]\nmax_over_subscription_ratio = lots", section: "DEFAULT",
                 option: "max_over_subscription_ratio", value: "lots"),
        BadValue(text: "[file-1]\nfile_capacity_gb = abc", section: "file-1", option: "file_capacity_gb", value: "abc"),
        BadValue(text: "[file-1]\nfile_capacity_gb = 0", section: "file-1", option: "file_capacity_gb", value: "0"),
        BadValue(text: "[file-1]\nreserved_percentage = 101", section: "file-1", option: "reserved_percentage",
                 value: "101"),
        BadValue(text: "[file-1]\nmax_over_subscription_ratio = 0.5", section: "file-1",
                 option: "max_over_subscription_ratio", value: "0.5"),
        BadValue(text: "[file-1]\nmax_over_subscription_ratio = auto", section: "file-1",
                 option: "max_over_subscription_ratio", value: "auto", code: .unsupported),
        BadValue(text: "[backend_defaults]\nreserved_percentage = -1", section: "backend_defaults",
                 option: "reserved_percentage", value: "-1"),
        BadValue(text: "[file-1]\nextra_capabilities = {not json", section: "file-1", option: "extra_capabilities",
                 value: "{not json"),
        BadValue(text: "[file-1]\nextra_capabilities = [1, 2]", section: "file-1", option: "extra_capabilities",
                 value: "[1, 2]"),
        BadValue(text: "[file-1]\nvolume_driver = cinder.volume.drivers.lvm.LVMVolumeDriver", section: "file-1",
                 option: "volume_driver", value: "cinder.volume.drivers.lvm.LVMVolumeDriver", code: .unsupported),
    ]

    @Test(arguments: ConfigTests.badValues)
    func badValueNamesFileSectionOptionAndValue(_ bad: BadValue) throws {
        let error = try #require(configError(bad.text, path: "bad.conf"))
        #expect(error.code == bad.code)
        #expect(error.file == "bad.conf")
        #expect(error.section == bad.section)
        #expect(error.option == bad.option)
        #expect(error.line == 2)
        #expect(error.description.hasPrefix("bad.conf [\(bad.section)] \(bad.option): "))
        #expect(error.description.contains("'\(bad.value)'"))
    }

    @Test func emptyRequiredValueIsAnError() throws {
        let error = try #require(configError("[database]\nconnection =\n", path: "bad.conf"))
        #expect(error.description.hasPrefix("bad.conf [database] connection: "))
        #expect(error.description.contains("empty"))
    }

    @Test func badBooleanNamesFileSectionAndOption() throws {
        let c = try config("[file-1]\nuse_chap_auth = maybe\n", path: "bool.conf")
        let backend = try #require(c.backends.first)
        do {
            _ = try backend.bool("use_chap_auth", default: false)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .invalidValue)
            #expect(error.description.hasPrefix("bool.conf [file-1] use_chap_auth: "))
            #expect(error.description.contains("'maybe'"))
        }
    }

    @Test func unsupportedAuthStrategySaysWhatIsSupported() throws {
        let error = try #require(configError("[DEFAULT]\nauth_strategy = keystone\n"))
        #expect(error.code == .unsupported)
        #expect(error.description.contains("noauth"))
    }

    @Test func badValuesInIgnoredSectionsAreNotErrors() throws {
        let c = try config("""
            [DEFAULT]
            enabled_backends = a
            [not-enabled]
            file_capacity_gb = abc
            [keystone_authtoken]
            memcached_servers = whatever
            """)
        #expect(c.backends.map(\.name) == ["a"])
        #expect(c.warnings.isEmpty)
    }

    // MARK: Warnings

    @Test func unknownOptionsBecomeWarnings() throws {
        let c = try config("""
            [DEFAULT]
            debug = true
            frobnicate = 1
            [database]
            connection = sqlite:///tmp/x.sqlite
            pool_magic = 2
            [file-1]
            colour = blue
            volume_group = tolerated
            [keystone_authtoken]
            auth_url = http://keystone
            [other-backend]
            mystery = 3
            """, path: "warn.conf")
        #expect(c.warnings.count == 3)
        #expect(c.warnings.contains { $0.contains("warn.conf") && $0.contains("[DEFAULT]") && $0.contains("frobnicate") })
        #expect(c.warnings.contains { $0.contains("warn.conf") && $0.contains("[database]") && $0.contains("pool_magic") })
        #expect(c.warnings.contains { $0.contains("warn.conf") && $0.contains("[file-1]") && $0.contains("colour") })
        #expect(!c.warnings.contains { $0.contains("debug") || $0.contains("auth_url") || $0.contains("mystery") })
    }

    @Test("message_ttl, message_reap_interval and public_endpoint are read; a bad public_endpoint is refused")
    func messagesAndEndpoint() throws {
        let c = try config("""
            [DEFAULT]
            message_ttl = 120
            message_reap_interval = 30
            public_endpoint = https://volumes.example.com:8776/
            glance_api_servers = http://glance:9292
            """, path: "m.conf")
        #expect(c.messageTTL == 120)
        #expect(c.messageReapInterval == 30)
        #expect(c.publicEndpoint == "https://volumes.example.com:8776")
        #expect(c.warnings.isEmpty, "\(c.warnings)")
        #expect(c.images.glanceAPIServers == ["http://glance:9292"])
        let defaults = try config([])
        let (ttl, reap, endpoint) = (defaults.messageTTL, defaults.messageReapInterval, defaults.publicEndpoint)
        #expect(ttl == 2_592_000)
        #expect(reap == 86_400)
        #expect(endpoint == nil)
        #expect(throws: ConfigError.self) { try config("[DEFAULT]\npublic_endpoint = volumes.example.com\n") }
        #expect(throws: ConfigError.self) { try config("[DEFAULT]\nmessage_ttl = 0\n") }
    }

    // MARK: Loading from disk

    @Test func loadReadsFilesInOrder() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let first = try directory.write("a.conf", "[DEFAULT]\nstate_path = /var/lib/one\nreport_interval = 7\n")
        let second = try directory.write("b.conf", "[DEFAULT]\nstate_path = /var/lib/two\n")

        let c = try AshlarConfig.load(files: [first, second], overrides: .init(listenPort: 1234))
        #expect(c.statePath == "/var/lib/two")
        #expect(c.reportInterval == 7)
        #expect(c.listenPort == 1234)
    }

    @Test func loadOfAMissingFileIsMissingFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let present = try directory.write("a.conf", "[DEFAULT]\n")
        let missing = directory.url.appendingPathComponent("missing.conf").path

        do {
            _ = try AshlarConfig.load(files: [present, missing])
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .missingFile)
            #expect(error.file == missing)
            #expect(error.description.contains(missing))
        }
    }

    // MARK: ConfigError

    @Test func errorDescriptionReadsLikeAPlace() {
        let error = ConfigError(
            .invalidValue, message: "'abc' is not an integer",
            file: "ashlar.conf", section: "lvm-1", option: "file_capacity_gb"
        )
        #expect(error.description == "ashlar.conf [lvm-1] file_capacity_gb: 'abc' is not an integer")

        var withLine = error
        withLine.line = 12
        #expect(withLine.description == "ashlar.conf [lvm-1] file_capacity_gb: 'abc' is not an integer (line 12)")

        #expect(ConfigError(.missingFile, message: "no such file").description == "no such file")
    }

    @Test func errorCodesAreExtensible() {
        let custom = ConfigError.Code("tls_mismatch")
        #expect(custom == ConfigError.Code("tls_mismatch"))
        #expect(custom != .syntax)
        #expect(custom.description == "tls_mismatch")
        #expect(Set([ConfigError.Code.syntax, .invalidValue, .missingFile, .missingOption, .unsupported]).count == 5)
    }
}

@Suite("Image options")
struct ImageOptionsTests {
    @Test("upstream's defaults, and each option read from [DEFAULT]")
    func imageOptions() throws {
        let defaults = try config("")
        #expect(defaults.images == ImageOptions(conversionDirectory: defaults.statePath + "/conversion"))
        #expect(ImageOptions().vmdkAllowedTypes == ["streamOptimized", "monolithicSparse"])
        let set = try config(
            """
            [DEFAULT]
            state_path = /srv/ashlar
            image_conversion_address_space_limit = 2
            image_conversion_cpu_limit = 30
            vmdk_allowed_types = streamOptimized
            glance_api_servers = glance:9292, https://images.example.com/image/
            glance_request_timeout = 30
            glance_num_retries = 1
            image_conversion_dir = $state_path/tmp
            image_volume_cache_enabled = true
            image_volume_cache_max_size_gb = 20
            image_volume_cache_max_count = 5
            enable_force_upload = yes
            """)
        #expect(
            set.images
                == ImageOptions(
                    conversionAddressSpaceLimit: 2, conversionCPULimit: 30, vmdkAllowedTypes: ["streamOptimized"],
                    glanceAPIServers: ["http://glance:9292", "https://images.example.com/image"],
                    glanceRequestTimeout: 30, glanceNumRetries: 1, conversionDirectory: "/srv/ashlar/tmp",
                    cacheEnabled: true, cacheMaxSizeGB: 20, cacheMaxCount: 5, enableForceUpload: true))
        #expect(set.warnings.isEmpty, "\(set.warnings)")
        #expect(throws: ConfigError.self) { try config("[DEFAULT]\nimage_conversion_cpu_limit = 0\n") }
        #expect(throws: ConfigError.self) { try config("[DEFAULT]\nglance_api_servers = ftp://x\n") }
    }
}

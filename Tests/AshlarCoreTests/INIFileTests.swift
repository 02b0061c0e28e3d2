import Foundation
import Testing

@testable import AshlarCore

/// Parses `text`, returning the error instead of throwing so tests can inspect it.
private func parseError(_ text: String, path: String = "test.conf") -> ConfigError? {
    do {
        _ = try INIFile(text: text, path: path)
        return nil
    } catch {
        return error
    }
}

@Suite("INIFile")
struct INIFileTests {
    @Test func sectionsAndEntriesKeepFileOrderAndLineNumbers() throws {
        let file = try INIFile(text: """
            [DEFAULT]
            host = node1
            debug = true

            [lvm-1]
            volume_group = vg1
            """, path: "a.conf")

        #expect(file.path == "a.conf")
        #expect(file.sections.map(\.name) == ["DEFAULT", "lvm-1"])
        #expect(file.sections[0].line == 1)
        #expect(file.sections[1].line == 5)
        #expect(file.sections[0].entries == [
            INIFile.Entry(option: "host", value: "node1", line: 2),
            INIFile.Entry(option: "debug", value: "true", line: 3),
        ])
        #expect(file["lvm-1", "volume_group"] == "vg1")
        #expect(file.section("lvm-1")?.entry("volume_group")?.line == 6)
        #expect(file["lvm-1", "host"] == nil)
        #expect(file.section("missing") == nil)
    }

    @Test func equalsAndColonSeparatorsAndFirstSeparatorWins() throws {
        let file = try INIFile(text: """
            [DEFAULT]
            a = 1
            b: 2
            transport_url = rabbit://user:secret@host:5672/
            glance_api_servers: http://glance:9292
            c=3
            d = x = y
            """, path: "t.conf")
        let section = try #require(file.section("DEFAULT"))
        #expect(section["a"] == "1")
        #expect(section["b"] == "2")
        #expect(section["transport_url"] == "rabbit://user:secret@host:5672/")
        #expect(section["glance_api_servers"] == "http://glance:9292")
        #expect(section["c"] == "3")
        #expect(section["d"] == "x = y")
    }

    @Test func commentsAndBlankLinesAreSkippedButInlineHashIsKept() throws {
        let file = try INIFile(text: """
            # leading comment
            ; another comment

            [DEFAULT]
            # host = commented-out
            ;debug = true
            chap_password = abc#123 ; not a comment
            """, path: "t.conf")
        let section = try #require(file.section("DEFAULT"))
        #expect(section.entries.map(\.option) == ["chap_password"])
        #expect(section["chap_password"] == "abc#123 ; not a comment")
        #expect(section["host"] == nil)
    }

    @Test func whitespaceIsTrimmed() throws {
        let file = try INIFile(text: "  [ lvm-1 ]  \n\tvolume_group   =   vg1   \n", path: "t.conf")
        #expect(file.sections.map(\.name) == ["lvm-1"])
        #expect(file["lvm-1", "volume_group"] == "vg1")
    }

    @Test func continuationLinesAreJoinedWithNewlines() throws {
        let file = try INIFile(text: """
            [DEFAULT]
            scheduler_default_filters = AvailabilityZoneFilter,
                CapacityFilter,
            \tCapabilitiesFilter
            next = 1
            """, path: "t.conf")
        #expect(file["DEFAULT", "scheduler_default_filters"] == "AvailabilityZoneFilter,\nCapacityFilter,\nCapabilitiesFilter")
        #expect(file["DEFAULT", "next"] == "1")
        #expect(file.section("DEFAULT")?.entry("next")?.line == 5)
    }

    @Test func blankLineEndsContinuationAndIndentedLineThenStandsAlone() throws {
        let file = try INIFile(text: "[DEFAULT]\na = 1\n\n  b = 2\n", path: "t.conf")
        #expect(file["DEFAULT", "a"] == "1")
        #expect(file["DEFAULT", "b"] == "2")
    }

    @Test func repeatedKeyLastWinsAndKeepsItsPosition() throws {
        let file = try INIFile(text: """
            [DEFAULT]
            a = 1
            b = 2
            a = 3
            """, path: "t.conf")
        let section = try #require(file.section("DEFAULT"))
        #expect(section.entries.map(\.option) == ["a", "b"])
        #expect(section["a"] == "3")
        #expect(section.entry("a")?.line == 4)
    }

    @Test func repeatedSectionIsMerged() throws {
        let file = try INIFile(text: "[DEFAULT]\na = 1\n[x]\nb = 2\n[DEFAULT]\nc = 3\n", path: "t.conf")
        #expect(file.sections.map(\.name) == ["DEFAULT", "x"])
        #expect(file.section("DEFAULT")?.entries.map(\.option) == ["a", "c"])
    }

    @Test func sectionNamesAreCaseSensitive() throws {
        let file = try INIFile(text: "[default]\na = 1\n[DEFAULT]\na = 2\n", path: "t.conf")
        #expect(file.sections.map(\.name) == ["default", "DEFAULT"])
        #expect(file["default", "a"] == "1")
        #expect(file["DEFAULT", "a"] == "2")
    }

    @Test func matchingQuotesAroundAValueAreRemoved() throws {
        let file = try INIFile(text: """
            [DEFAULT]
            a = "quoted value"
            b = 'single'
            c = "mismatched'
            d = "
            """, path: "t.conf")
        #expect(file["DEFAULT", "a"] == "quoted value")
        #expect(file["DEFAULT", "b"] == "single")
        #expect(file["DEFAULT", "c"] == "\"mismatched'")
        #expect(file["DEFAULT", "d"] == "\"")
    }

    @Test func emptyValueIsAllowed() throws {
        let file = try INIFile(text: "[DEFAULT]\nenabled_backends =\n", path: "t.conf")
        #expect(file["DEFAULT", "enabled_backends"] == "")
    }

    @Test func windowsLineEndingsAndByteOrderMarkAreAccepted() throws {
        let file = try INIFile(text: "\u{FEFF}[DEFAULT]\r\nhost = node1\r\n\r\n[x]\r\ny = 2\r\n", path: "t.conf")
        #expect(file.sections.map(\.name) == ["DEFAULT", "x"])
        #expect(file["DEFAULT", "host"] == "node1")
        #expect(file.section("x")?.entry("y")?.line == 5)
    }

    @Test func optionBeforeAnySectionIsAnErrorNamingFileAndLine() throws {
        let error = try #require(parseError("# header\nhost = node1\n", path: "/etc/ashlar/ashlar.conf"))
        #expect(error.code == .syntax)
        #expect(error.file == "/etc/ashlar/ashlar.conf")
        #expect(error.line == 2)
        #expect(error.description.contains("/etc/ashlar/ashlar.conf"))
        #expect(error.description.contains("line 2"))
        #expect(error.description.contains("host"))
    }

    @Test func lineWithoutSeparatorIsAnErrorNamingFileAndLine() throws {
        let error = try #require(parseError("[DEFAULT]\nhost = a\njust some words\n", path: "x.conf"))
        #expect(error.code == .syntax)
        #expect(error.file == "x.conf")
        #expect(error.line == 3)
        #expect(error.description.contains("x.conf"))
        #expect(error.description.contains("line 3"))
        #expect(error.description.contains("just some words"))
    }

    @Test(arguments: ["[DEFAULT", "[]", "[   ]", "= value"])
    func malformedLinesAreSyntaxErrors(line: String) throws {
        let error = try #require(parseError("[DEFAULT]\n\(line)\n", path: "m.conf"))
        #expect(error.code == .syntax)
        #expect(error.file == "m.conf")
        #expect(error.line == 2)
    }

    @Test func loadReadsAFileFromDisk() throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("ashlar-ini-\(UUID().uuidString).conf")
        try "[DEFAULT]\nhost = disk-node\n".write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }

        let file = try INIFile.load(path: url.path)
        #expect(file.path == url.path)
        #expect(file["DEFAULT", "host"] == "disk-node")
    }

    @Test func loadOfAMissingFileIsMissingFile() throws {
        let path = "/nonexistent/ashlar-\(UUID().uuidString).conf"
        do {
            _ = try INIFile.load(path: path)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .missingFile)
            #expect(error.file == path)
            #expect(error.description.contains(path))
        }
    }

    @Test func syntaxErrorInALoadedFileNamesThatFile() throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("ashlar-ini-\(UUID().uuidString).conf")
        try "[DEFAULT]\noops\n".write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }

        do {
            _ = try INIFile.load(path: url.path)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .syntax)
            #expect(error.file == url.path)
            #expect(error.line == 2)
        }
    }
}

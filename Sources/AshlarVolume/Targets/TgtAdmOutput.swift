import Foundation

/// One target as `tgtadm --op show --mode target` prints it.
struct TgtTarget: Sendable, Hashable {
    /// One logical unit: its backing file ("None" for the controller LUN 0) and whether it refuses writes.
    struct LogicalUnit: Sendable, Hashable {
        var path: String?
        var readOnly = false
    }

    var tid: Int
    var iqn: String
    var logicalUnits: [Int: LogicalUnit] = [:]
    /// Incoming CHAP accounts (the ones initiators log in with).
    var accounts: [String] = []
    /// Outgoing (mutual CHAP) accounts; Ashlar does not make these.
    var outgoingAccounts: [String] = []
    /// ACL entries in tgtadm's order: addresses (`ALL`, IPs) first, then initiator names.
    var acl: [String] = []
    /// Initiator names of the sessions logged in now.
    var sessions: [String] = []

    var state: ISCSIExportState {
        ISCSIExportState(
            iqn: iqn, tid: tid, path: logicalUnits[1]?.path, chapUsers: accounts,
            allowsAnyInitiator: acl.contains("ALL"), initiators: Set(acl.filter { $0 != "ALL" }),
            readOnly: logicalUnits[1]?.readOnly ?? false, connectedInitiators: sessions)
    }
}

/// Parsers for tgtadm's human-readable listings (it has no machine format).
enum TgtAdmOutput {
    /// Parses `tgtadm --op show --mode target`:
    ///
    ///     Target 1: iqn.2010-10.org.openstack:volume-a
    ///         I_T nexus information:
    ///             I_T nexus: 1
    ///                 Initiator: iqn.1994-05.com.redhat:host1 alias: host1
    ///         LUN information:
    ///             LUN: 1
    ///                 Readonly: No
    ///                 Backing store path: /var/lib/ashlar/volume-a
    ///         Account information:
    ///             ashlar-user
    ///             mutual (outgoing)
    ///         ACL information:
    ///             ALL
    static func parseTargets(_ text: String) -> [TgtTarget] {
        var targets: [TgtTarget] = []
        var section = ""
        var lun: Int?
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            let indent = rawLine.prefix { $0 == " " || $0 == "\t" }.count
            if indent == 0 {
                // "Target 12: iqn…": the name may itself contain ": ", so split at the first one only.
                guard line.hasPrefix("Target "), let colon = line.range(of: ": "),
                    let tid = Int(line[line.index(line.startIndex, offsetBy: 7)..<colon.lowerBound])
                else { continue }
                targets.append(TgtTarget(tid: tid, iqn: String(line[colon.upperBound...])))
                section = ""
                lun = nil
                continue
            }
            guard !targets.isEmpty else { continue }
            if indent <= 4 && line.hasSuffix(":") {
                section = String(line.dropLast())
                lun = nil
                continue
            }
            let last = targets.count - 1
            switch section {
            case "LUN information":
                if let value = field(line, "LUN"), let number = Int(value) {
                    lun = number
                    targets[last].logicalUnits[number] = TgtTarget.LogicalUnit()
                } else if let number = lun, let value = field(line, "Backing store path") {
                    targets[last].logicalUnits[number]?.path = value == "None" || value.isEmpty ? nil : value
                } else if let number = lun, let value = field(line, "Readonly") {
                    targets[last].logicalUnits[number]?.readOnly = value == "Yes"
                }
            case "Account information":
                if line.hasSuffix(" (outgoing)") {
                    targets[last].outgoingAccounts.append(String(line.dropLast(" (outgoing)".count)))
                } else {
                    targets[last].accounts.append(line)
                }
            case "ACL information":
                targets[last].acl.append(line)
            case "I_T nexus information":
                if let value = field(line, "Initiator") {
                    let name = value.range(of: " alias:").map { String(value[..<$0.lowerBound]) } ?? value
                    targets[last].sessions.append(name)
                }
            default:
                break
            }
        }
        return targets
    }

    /// Parses `tgtadm --op show --mode account`: "Account list:" and one indented user per line.
    static func parseAccounts(_ text: String) -> [String] {
        text.split(separator: "\n")
            .filter { $0.hasPrefix(" ") || $0.hasPrefix("\t") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
    }

    /// The state of low-level driver `lld` ("ready", "error") in `tgtadm --op show --mode system`, or nil.
    static func driverState(_ text: String, lld: String = "iscsi") -> String? {
        var inDrivers = false
        for rawLine in text.split(separator: "\n") {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if !rawLine.hasPrefix(" ") {
                inDrivers = line == "LLDs:"
            } else if inDrivers, let value = field(line, lld) {
                return value
            }
        }
        return nil
    }

    /// The value of "key: value", or nil when the line is not that key's.
    private static func field(_ line: String, _ key: String) -> String? {
        guard line.hasPrefix(key + ":") else { return nil }
        return line.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces)
    }
}

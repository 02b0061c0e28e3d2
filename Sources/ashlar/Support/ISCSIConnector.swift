import Foundation

/// What a host tells Cinder about itself when it attaches (os-brick's connector properties).
struct ISCSIConnector: Codable, Equatable, Sendable {
    var initiator: String
    var ip: String
    var host: String
    var platform: String
    var osType: String
    var multipath: Bool
    var doLocalAttach: Bool

    enum CodingKeys: String, CodingKey {
        case initiator, ip, host, platform
        case osType = "os_type"
        case multipath
        case doLocalAttach = "do_local_attach"
    }

    init(initiator: String, ip: String, host: String, platform: String = "x86_64") {
        self.initiator = initiator
        self.ip = ip
        self.host = host
        self.platform = platform
        self.osType = "linux"
        self.multipath = false
        self.doLocalAttach = false
    }
}

/// The iSCSI initiator name of this host.
enum InitiatorName {
    static let path = "/etc/iscsi/initiatorname.iscsi"

    /// The value of the first `InitiatorName=` line of an open-iscsi `initiatorname.iscsi`, or nil (comments,
    /// blank lines and other keys such as `GenerateName=yes` are skipped; an empty value counts as none).
    static func parse(_ contents: String) -> String? {
        for raw in contents.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") { continue }
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            guard key == "InitiatorName" else { continue }
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if !value.isEmpty { return value }
        }
        return nil
    }

    /// `iqn.2004-10.com.ashlar:<hostname>-<8 hex>`, the hostname lowercased and cut to what an IQN allows.
    static func generated(hostname: String, suffix: UInt32) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789.-")
        var name = String(hostname.lowercased().map { allowed.contains($0) ? $0 : "-" })
        while name.hasPrefix("-") || name.hasPrefix(".") { name.removeFirst() }
        while name.hasSuffix("-") || name.hasSuffix(".") { name.removeLast() }
        if name.isEmpty { name = "host" }
        let hex = String(suffix, radix: 16)
        return "iqn.2004-10.com.ashlar:\(name)-\(String(repeating: "0", count: max(0, 8 - hex.count)))\(hex)"
    }

    /// The generated name's suffix: stable for a machine (FNV-1a of `/etc/machine-id` and the hostname) so that
    /// repeated attaches from one host present one initiator; random when there is no machine id.
    static func suffix(machineID: String?, hostname: String) -> UInt32 {
        guard let id = machineID?.trimmingCharacters(in: .whitespacesAndNewlines), !id.isEmpty else {
            return UInt32.random(in: .min ... .max)
        }
        return fnv1a32(id + "\n" + hostname)
    }

    static func fnv1a32(_ s: String) -> UInt32 {
        var hash: UInt32 = 0x811c_9dc5
        for byte in s.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 0x0100_0193
        }
        return hash
    }
}

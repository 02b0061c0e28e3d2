import Foundation

/// A backend's iSCSI export options, with Cinder's option names and defaults (except `target_ip_address`).
public struct ISCSIConfig: Sendable, Hashable {
    /// `target_ip_address`: the address initiators connect to. Cinder's default is `$my_ip`; Ashlar's is loopback.
    public var targetIPAddress: String
    /// `target_port`: the iSCSI port tgtd listens on.
    public var targetPort: Int
    /// `target_prefix`: the start of every target name.
    public var targetPrefix: String
    /// `iscsi_target_flags`: tgtadm's backing-store flags (`--bsoflags`: `direct`, `sync`); empty for none.
    public var iscsiTargetFlags: String
    /// `use_chap_auth`: whether initiators must log in with CHAP.
    public var useChapAuth: Bool
    /// `chap_username`: one CHAP user for every volume; empty to generate one per volume.
    public var chapUsername: String
    /// `chap_password`: the secret of `chap_username`; empty to generate one per volume.
    public var chapPassword: String
    /// `tgt_control_port` (Ashlar's own): tgtd's management port (`tgtadm -C`); nil for tgtadm's default.
    public var tgtControlPort: Int?
    /// `iscsi_target_params` (Ashlar's own): login parameters set on every new target; empty for tgtd's defaults.
    public var targetParameters: [ISCSITargetParameter]

    public init(
        targetIPAddress: String = "127.0.0.1", targetPort: Int = 3260,
        targetPrefix: String = "iqn.2010-10.org.openstack:", iscsiTargetFlags: String = "",
        useChapAuth: Bool = true, chapUsername: String = "", chapPassword: String = "", tgtControlPort: Int? = nil,
        targetParameters: [ISCSITargetParameter] = ISCSITargetParameter.defaults
    ) {
        self.targetIPAddress = targetIPAddress
        self.targetPort = targetPort
        self.targetPrefix = targetPrefix
        self.iscsiTargetFlags = iscsiTargetFlags
        self.useChapAuth = useChapAuth
        self.chapUsername = chapUsername
        self.chapPassword = chapPassword
        self.tgtControlPort = tgtControlPort
        self.targetParameters = targetParameters
    }

    /// The target name of volume `id`: `target_prefix` + "volume-" + id, as Cinder names it.
    public func iqn(forVolume id: String) -> String { targetPrefix + "volume-" + id }

    /// "ip:port", with an IPv6 address in brackets.
    public var portal: String {
        targetIPAddress.contains(":") && !targetIPAddress.hasPrefix("[")
            ? "[\(targetIPAddress)]:\(targetPort)" : "\(targetIPAddress):\(targetPort)"
    }

    /// The CHAP credentials of a new export: nil without `use_chap_auth`; the configured user and password
    /// where set, generated ones where empty.
    public func newCHAPCredentials() -> CHAPCredentials? {
        guard useChapAuth else { return nil }
        return CHAPCredentials(
            user: chapUsername.isEmpty ? Self.generateCHAPUser() : chapUsername,
            password: chapPassword.isEmpty ? Self.generateCHAPSecret() : chapPassword)
    }

    /// The characters of generated names and secrets: safe in tgtadm arguments, iSCSI URLs and config files.
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

    /// A random CHAP secret of `length` characters from [A-Za-z0-9]. 16 by default: ~95 bits, and the most
    /// some initiators (Windows) accept.
    public static func generateCHAPSecret(length: Int = 16) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<max(length, 1)).map { _ in alphabet.randomElement(using: &generator)! })
    }

    /// A random CHAP user name: "ashlar-" and 16 characters from [A-Za-z0-9].
    public static func generateCHAPUser() -> String { "ashlar-" + generateCHAPSecret(length: 16) }
}

/// A CHAP user and its secret.
public struct CHAPCredentials: Sendable, Hashable {
    public var user: String
    public var password: String

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }
}

import AshlarCore
import Foundation

extension ISCSIConfig {
    /// The target options of a backend section (falling back to `[backend_defaults]`), with Cinder's names:
    /// `target_ip_address` (default 127.0.0.1: the all-in-one serves this machine), `target_port`, `target_prefix`,
    /// `iscsi_target_flags`, `use_chap_auth`, `chap_username`, `chap_password`; and Ashlar's `tgt_control_port`,
    /// the management port of a tgtd started with `-C N` (unset: tgtadm's default channel), and
    /// `iscsi_target_params`, the login parameters of new targets (unset: ``ISCSITargetParameter/defaults``;
    /// empty: tgtd's own).
    public init(backend: BackendConfig) throws(ConfigError) {
        var controlPort: Int? = nil
        if backend.setting("tgt_control_port") != nil {
            controlPort = try backend.int("tgt_control_port", default: 0, in: 0...65535)
        }
        var parameters = ISCSITargetParameter.defaults
        if let list = backend.options["iscsi_target_params"] {
            do {
                parameters = try ISCSITargetParameter.parse(list)
            } catch {
                throw backend.error("iscsi_target_params", error.message)
            }
        }
        self.init(
            targetIPAddress: try backend.string("target_ip_address", default: "127.0.0.1"),
            targetPort: try backend.int("target_port", default: 3260, in: 1...65535),
            targetPrefix: try backend.string("target_prefix", default: "iqn.2010-10.org.openstack:"),
            iscsiTargetFlags: backend.options["iscsi_target_flags"] ?? "",
            useChapAuth: try backend.bool("use_chap_auth", default: true),
            chapUsername: backend.options["chap_username"] ?? "",
            chapPassword: backend.options["chap_password"] ?? "",
            tgtControlPort: controlPort, targetParameters: parameters)
    }

    /// The target a backend's `target_helper` names: `tgtadm` (the default, as Cinder's) or `none` (volumes are
    /// not exported: attach is refused).
    public static func target(for backend: BackendConfig, config: ISCSIConfig) throws(ConfigError) -> (any ISCSITarget)? {
        let helper = try backend.string("target_helper", default: "tgtadm")
        switch helper {
        case "tgtadm": return TgtAdmTarget(config: config)
        case "none": return nil
        default:
            throw backend.error(
                "target_helper", "'\(helper)' is not supported: use tgtadm, or none to export nothing",
                code: .unsupported)
        }
    }
}

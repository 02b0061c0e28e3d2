import AshlarCore
import Hummingbird

/// `/extensions`: the API extensions of upstream's contrib that Ashlar serves, by upstream's names and aliases
/// (clients and tempest look for them by those).
struct ExtensionsController {
    let env: APIEnvironment

    func register(on router: Router<APIRequestContext>) {
        router.get("/v3/extensions", use: list)
    }

    /// name, alias, what it adds.
    static let served: [(String, String, String)] = [
        ("AdminActions", "os-admin-actions", "Resets statuses and forces deletes of volumes and snapshots."),
        ("Availability_zones", "os-availability-zone", "Lists the availability zones and whether each is usable."),
        ("Capabilities", "capabilities", "Shows what a backend can do."),
        ("Extended_services", "os-extended-services", "Disables services with a reason."),
        ("Extended_snapshot_attributes", "os-extended-snapshot-attributes", "Shows a snapshot's progress and project."),
        ("Hosts", "os-hosts", "Lists the hosts and what each keeps."),
        ("Qos_specs_manage", "qos-specs", "Manages QoS specs and their volume types."),
        ("Quota_classes", "os-quota-class-sets", "Manages the default quotas."),
        ("Quotas", "os-quota-sets", "Manages the quotas of projects."),
        ("Scheduler_stats", "scheduler-stats", "Shows the pools as the scheduler sees them."),
        ("Services", "os-services", "Lists, enables, disables, freezes and thaws services."),
        ("Snapshot_actions", "os-snapshot-actions", "Lets a driver report a snapshot's progress."),
        ("Types_extra_specs", "os-types-extra-specs", "Manages the extra specs of volume types."),
        ("Types_manage", "os-types-manage", "Creates, changes and deletes volume types."),
        ("Used_limits", "os-used-limits", "Adds what is in use to the limits."),
        ("Volume_actions", "os-volume-actions", "Attaches, detaches, extends, retypes and changes volumes."),
        ("Volume_encryption_metadata", "os-volume-encryption-metadata", "Shows how a volume is encrypted."),
        ("Volume_host_attribute", "os-vol-host-attr", "Shows where a volume is."),
        ("Volume_image_metadata", "os-vol-image-meta", "Shows the image properties a volume carries."),
        ("Volume_mig_status_attribute", "os-vol-mig-status-attr", "Shows a volume's migration status."),
        ("Volume_tenant_attribute", "os-vol-tenant-attr", "Shows a volume's project."),
        ("Volume_transfer", "os-volume-transfer", "Gives a volume to another project that knows its key."),
        ("Volume_type_access", "os-volume-type-access", "Manages which projects see a private volume type."),
        ("Volume_type_encryption", "encryption", "Manages how volumes of a type are encrypted."),
    ]

    func list(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let items: [JSONValue] = Self.served.map { name, alias, description in
            [
                "name": .string(name), "alias": .string(alias), "description": .string(description),
                "links": [], "updated": "2026-12-01T00:00:00+00:00",
            ]
        }
        return JSONResponse.make(["extensions": .array(items)])
    }
}

import AshlarCore
import AshlarImages
import AshlarMessaging
import AshlarStore
import Logging
import Prometheus

/// Everything the API needs: options, stores, RPC clients and the metrics registry.
public struct APIEnvironment: Sendable {
    public var osapiMaxLimit: Int
    public var maxRequestBodySize: Int
    public var defaultVolumeType: String
    public var defaultAvailabilityZone: String
    public var serviceDownTime: Int
    public var quotas: QuotaDefaults
    /// `public_endpoint`: the base of links; nil takes it from the request.
    public var publicEndpoint: String?
    /// The project of requests that name none (noauth with a dummy token and no project in the URL).
    public var defaultProjectID: String

    public let database: AshlarDatabase
    public let volumes: VolumeStore
    public let snapshots: SnapshotStore
    public let quotaStore: QuotaStore
    public let types: VolumeTypeStore
    public let qosSpecs: QoSSpecsStore
    public let transfers: TransferStore
    public let groupTypes: GroupTypeStore
    public let groups: GroupStore
    public let groupSnapshots: GroupSnapshotStore
    public let services: ServiceStore
    public let messages: MessageStore
    public let attachments: AttachmentStore
    public let transport: any RPCTransport
    /// The Image service volumes are made from and uploaded to; nil when there is none.
    public let images: (any ImageService)?
    /// The built-in image store this API serves under `/image`, when it is the image service.
    public let imageStore: LocalImageStore?
    /// `enable_force_upload` and the other image options.
    public var imageOptions: ImageOptions
    public let registry: PrometheusCollectorRegistry
    public let logger: Logger

    public init(
        config: AshlarConfig, database: AshlarDatabase, transport: any RPCTransport,
        registry: PrometheusCollectorRegistry, logger: Logger, defaultProjectID: String = "admin",
        images: (any ImageService)? = nil, imageStore: LocalImageStore? = nil
    ) {
        self.images = images
        self.imageStore = imageStore
        self.imageOptions = config.images
        self.osapiMaxLimit = config.osapiMaxLimit
        self.maxRequestBodySize = config.osapiMaxRequestBodySize
        self.defaultVolumeType = config.defaultVolumeType
        self.defaultAvailabilityZone = config.defaultAvailabilityZone
        self.serviceDownTime = config.serviceDownTime
        self.quotas = config.quotas
        self.defaultProjectID = defaultProjectID
        self.publicEndpoint = config.publicEndpoint
        self.database = database
        self.volumes = VolumeStore(db: database)
        self.snapshots = SnapshotStore(db: database)
        self.quotaStore = QuotaStore(
            db: database, defaults: config.quotas, noSnapshotGigabytes: config.quotas.noSnapshotGigabytes)
        self.types = VolumeTypeStore(db: database)
        self.qosSpecs = QoSSpecsStore(db: database)
        self.transfers = TransferStore(db: database)
        self.groupTypes = GroupTypeStore(db: database)
        self.groups = GroupStore(db: database)
        self.groupSnapshots = GroupSnapshotStore(db: database)
        self.services = ServiceStore(db: database)
        self.messages = MessageStore(db: database, ttl: config.messageTTL)
        self.attachments = AttachmentStore(db: database)
        self.transport = transport
        self.registry = registry
        self.logger = logger
    }

    var scheduler: SchedulerRPC.Client { .init(transport: transport) }
    var volumeRPC: VolumeRPC.Client { .init(transport: transport) }
}

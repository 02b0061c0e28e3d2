import AshlarCore
import Hummingbird
import Logging

/// Builds the Block Storage v3 API as a Hummingbird application.
public enum APIServer {
    /// The router with every controller registered, behind the edge responder.
    static func responder(environment: APIEnvironment) -> APIResponder {
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: BusGate(transport: environment.transport))
        let volumes = VolumesController(env: environment)
        volumes.register(on: router)
        VolumeActionsController(env: environment, volumes: volumes).register(on: router)
        AttachmentsController(env: environment).register(on: router)
        MetadataController(env: environment, subject: VolumeMetadataSubject(env: environment, volumes: volumes)).register(on: router)
        let snapshots = SnapshotsController(env: environment)
        snapshots.register(on: router)
        MetadataController(env: environment, subject: SnapshotMetadataSubject(env: environment, snapshots: snapshots))
            .register(on: router)
        VolumeTypesController(env: environment).register(on: router)
        VolumeTypeEncryptionController(env: environment).register(on: router)
        QoSSpecsController(env: environment).register(on: router)
        HostsController(env: environment).register(on: router)
        TransfersController(env: environment).register(on: router)
        GroupTypesController(env: environment).register(on: router)
        GroupsController(env: environment).register(on: router)
        GroupSnapshotsController(env: environment).register(on: router)
        ExtensionsController(env: environment).register(on: router)
        DefaultTypes(env: environment).register(on: router)
        ServicesController(env: environment).register(on: router)
        WorkersController(env: environment).register(on: router)
        LimitsController(env: environment).register(on: router)
        ProjectsController(env: environment).register(on: router)
        QuotaSetsController(env: environment).register(on: router)
        QuotaClassSetsController(env: environment).register(on: router)
        MessagesController(env: environment).register(on: router)
        BackendsController(env: environment).register(on: router)
        OperationsController(env: environment).register(on: router)
        if let store = environment.imageStore { ImagesController(env: environment, store: store).register(on: router) }
        return APIResponder(router: router.buildResponder(), environment: environment)
    }

    /// The application, listening on `host:port`; `onReady` gets the URL once it listens (port 0 resolved).
    public static func application(
        environment: APIEnvironment, host: String, port: Int, logger: Logger,
        onReady: @escaping @Sendable (String) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            responder: responder(environment: environment),
            configuration: .init(address: .hostname(host, port: port), serverName: "Ashlar"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? port
                await onReady("http://\(host):\(port)")
            },
            logger: logger)
    }
}

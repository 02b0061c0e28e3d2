import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus

/// `/healthcheck` and `/metrics`: for load balancers and Prometheus, outside `/v3`.
struct OperationsController {
    let env: APIEnvironment

    func register(on router: Router<APIRequestContext>) {
        router.get("/healthcheck", use: health)
        router.get("/metrics", use: metrics)
    }

    /// 200 `OK` while the database answers, else 503.
    func health(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        do {
            _ = try await env.services.list(binary: ServiceRecord.schedulerBinary)
            return Response(
                status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "OK")))
        } catch {
            return Response(
                status: .serviceUnavailable, headers: [.contentType: "text/plain"],
                body: .init(byteBuffer: ByteBuffer(string: "database unavailable")))
        }
    }

    /// Request counters and latency histograms, volumes by status, and backend capacity from the scheduler.
    func metrics(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let registry = env.registry
        let counts = try await env.volumes.countsByStatus()
        for status in VolumeStatus.all.map(\.rawValue) {
            registry.makeGauge(name: "ashlar_volumes", labels: [("status", status)]).set(Double(counts[status] ?? 0))
        }
        if let pools = try? await env.scheduler.getPools(.init(), context: context.caller, timeout: .seconds(2)) {
            for case .object(let pool) in pools {
                guard let name = pool["name"]?.stringValue, case .object(let caps) = pool["capabilities"] ?? .null
                else { continue }
                for key in [
                    "total_capacity_gb", "free_capacity_gb", "provisioned_capacity_gb", "allocated_capacity_gb",
                ] {
                    let value: Double? =
                        switch caps[key] {
                        case .int(let i): Double(i)
                        case .double(let d): d
                        default: nil
                        }
                    if let value {
                        registry.makeGauge(name: "ashlar_backend_\(key)", labels: [("pool", name)]).set(value)
                    }
                }
            }
        }
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

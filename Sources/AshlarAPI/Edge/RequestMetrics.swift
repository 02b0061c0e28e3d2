import Metrics
import Synchronization

/// Request counters and latency timers by method, route and status, made once per combination rather than on
/// every request.
final class RequestMetrics: Sendable {
    private struct Key: Hashable {
        var method: String
        var route: String
        var status: Int
    }

    private let instruments = Mutex<[Key: (Counter, Metrics.Timer)]>([:])

    func record(method: String, route: String, status: Int, nanoseconds: Int64) {
        let key = Key(method: method, route: route, status: status)
        let (counter, timer) = instruments.withLock { cache in
            if let found = cache[key] { return found }
            let made = (
                Counter(
                    label: "ashlar_http_requests_total",
                    dimensions: [("method", method), ("route", route), ("status", String(status))]),
                Metrics.Timer(
                    label: "ashlar_http_request_duration_seconds", dimensions: [("method", method), ("route", route)])
            )
            cache[key] = made
            return made
        }
        counter.increment()
        timer.recordNanoseconds(nanoseconds)
    }
}

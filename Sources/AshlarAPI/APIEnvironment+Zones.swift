import AshlarCore
import AshlarStore

extension APIEnvironment {
    /// The availability zones some volume service is in.
    func volumeZones() async throws -> Set<String> {
        Set(try await services.list(binary: ServiceRecord.volumeBinary).map(\.availabilityZone))
    }

    /// `requested` when a volume service is in that zone, else upstream's 400.
    func knownZone(_ requested: String) async throws -> String {
        guard try await volumeZones().contains(requested) else {
            throw AshlarError(.invalidInput, "Invalid input received: Availability zone '\(requested)' is invalid.")
        }
        return requested
    }
}

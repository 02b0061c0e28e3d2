import AshlarCore
import Testing

@Suite("QoS specs: the limits a host enforces")
struct QoSSpecsTests {
    @Test("per-GiB limits are multiplied by the size, raised to the minimum, capped at the maximum")
    func perGB() {
        let specs = QoSSpecs(
            name: "q", consumer: .frontEnd,
            specs: [
                "read_iops_sec_per_gb": "10", "write_bytes_sec_per_gb": "1000", "write_bytes_sec_per_gb_min": "50000",
                "total_iops_sec_per_gb": "30", "total_iops_sec_max": "100", "read_bytes_sec": "7",
            ])
        #expect(
            specs.connectionSpecs(size: 5) == [
                "read_iops_sec": 50, "write_bytes_sec": 50000, "total_iops_sec": 100, "read_bytes_sec": "7",
            ])
        // A per-GiB limit wins over a fixed one of the same name, as upstream overwrites it.
        let both = QoSSpecs(name: "b", specs: ["read_iops_sec": "1", "read_iops_sec_per_gb": "2"])
        #expect(both.connectionSpecs(size: 3) == ["read_iops_sec": 6])
        // A value that is not a number is passed on as it is.
        let odd = QoSSpecs(name: "o", specs: ["read_iops_sec_per_gb": "lots"])
        #expect(odd.connectionSpecs(size: 3) == ["read_iops_sec_per_gb": "lots"])
    }

    @Test("front-end and both are enforced by the host; back-end is not")
    func consumers() {
        #expect(QoSSpecs(name: "f", consumer: .frontEnd).isFrontEnd)
        #expect(QoSSpecs(name: "b", consumer: .both).isFrontEnd)
        #expect(!QoSSpecs(name: "k", consumer: .backEnd).isFrontEnd)
    }
}

import Foundation

/// One iSCSI login parameter a target offers (`MaxBurstLength=16776192`), set on every new target with
/// `tgtadm --op update --mode target --name … --value …` (tgt 1.0.x takes no `--params` list for targets).
public struct ISCSITargetParameter: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    public var description: String { "\(name)=\(value)" }

    /// Ashlar's default `iscsi_target_params`: larger data segments and bursts, and unsolicited write data. With
    /// tgtd's own (8 KiB segments, 256 KiB bursts, InitialR2T=Yes) sequential writes ran at 0.6 of the speed
    /// (bench/README.md). A login settles on the smaller sizes and the stricter flags of the two sides, so these
    /// only ever allow more.
    public static let defaults: [ISCSITargetParameter] = [
        .init(name: "MaxRecvDataSegmentLength", value: "262144"),
        .init(name: "MaxXmitDataSegmentLength", value: "262144"),
        .init(name: "MaxBurstLength", value: "16776192"),
        .init(name: "FirstBurstLength", value: "262144"),
        .init(name: "InitialR2T", value: "No"),
    ]

    /// The target parameters tgtd knows (as `tgtadm --op show --mode target --tid N` lists them).
    public static let known: [String] = [
        "MaxRecvDataSegmentLength", "MaxXmitDataSegmentLength", "HeaderDigest", "DataDigest", "InitialR2T",
        "MaxOutstandingR2T", "ImmediateData", "FirstBurstLength", "MaxBurstLength", "DataPDUInOrder",
        "DataSequenceInOrder", "ErrorRecoveryLevel", "IFMarker", "OFMarker", "DefaultTime2Wait", "DefaultTime2Retain",
        "OFMarkInt", "IFMarkInt", "MaxConnections", "RDMAExtensions", "TargetRecvDataSegmentLength",
        "InitiatorRecvDataSegmentLength", "MaxOutstandingUnexpectedPDUs", "MaxQueueCmd", "nop_interval", "nop_count",
    ]

    /// A list as written in the option: `Name=Value,Name=Value`; empty for none. Names must be ones tgtd knows
    /// (compared without case, written as tgtd spells them); values are checked by tgtd when a target is made.
    public static func parse(_ list: String) throws(Invalid) -> [ISCSITargetParameter] {
        var parameters: [ISCSITargetParameter] = []
        guard !list.allSatisfy(\.isWhitespace) else { return parameters }
        for item in list.split(separator: ",", omittingEmptySubsequences: false) {
            let item = item.trimmingCharacters(in: .whitespaces)
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw Invalid("'\(item)' is not Name=Value; write e.g. MaxBurstLength=16776192,InitialR2T=No")
            }
            guard let name = known.first(where: { $0.lowercased() == parts[0].lowercased() }) else {
                throw Invalid("'\(parts[0])' is not a tgtd target parameter; known: \(known.joined(separator: ", "))")
            }
            guard parts[1].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "~") }) else {
                throw Invalid("the value of \(name), '\(parts[1])', may have only letters, digits and '~'")
            }
            if parameters.contains(where: { $0.name == name }) { throw Invalid("\(name) is given twice") }
            parameters.append(.init(name: name, value: parts[1]))
        }
        return parameters
    }

    /// Why a parameter list was refused.
    public struct Invalid: Error, Sendable {
        public var message: String
        init(_ message: String) { self.message = message }
    }
}

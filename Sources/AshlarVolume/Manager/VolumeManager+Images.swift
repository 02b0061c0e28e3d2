import AshlarCore
import AshlarImages
import AshlarMessaging
import AshlarStore
import Foundation
import Logging
import Metrics
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

extension VolumeManager {
    /// Makes this backend's conversion folder and image cache, removing what a stopped service left in them: at
    /// start nothing of this backend's is in flight.
    func prepareImageFolders() {
        try? FileManager.default.removeItem(atPath: conversionDirectory)
        try? FileManager.default.createDirectory(atPath: conversionDirectory, withIntermediateDirectories: true)
        imageCache?.prepare()
    }

    /// Writes image `imageID` into the new volume: from the cache when it has the image, else from the image's
    /// data — the built-in store's own file, or a download into the conversion folder — inspected before
    /// anything reads it, then cloned (raw) or converted by qemu-img under its limits. Returns the image, or nil
    /// when the volume changed meanwhile (deleted, reset) and was left alone. Throws a person's message for an
    /// image that is refused.
    func createFromImage(_ volume: Volume, imageID: String, context: CallerContext) async throws -> Image? {
        guard let images else {
            throw AshlarError(.invalidInput, "this volume service has no Image service configured")
        }
        let image = try await images.show(imageID, context: context)
        guard image.isActive else { throw AshlarError(.invalidInput, "Image \(imageID) is not active (it is \(image.status)).") }
        guard ["bare", "ami"].contains(image.containerFormat ?? "bare") else {
            throw AshlarError(
                .invalidInput,
                "Image \(imageID) has container format \(image.containerFormat ?? ""); only bare images can be written to a volume.")
        }
        if volume.status == .creating {
            guard try await volumes.apply(.downloadBegun, to: volume.id) != nil else { return nil }
        }
        let log = logger(for: context)
        let volumeBytes = Int64(volume.size) << 30
        if let cached = imageCache?.lookup(image) {
            try await driver.createVolume(id: volume.id, sizeGB: volume.size, copyingFile: cached)
            log.info("volume \(volume.id) cloned from the cached copy of image \(imageID)")
            ImageMetrics.cacheHits.increment()
            return image
        }
        ImageMetrics.cacheMisses.increment()
        let progress = ProgressReporter(volumes: volumes, volumeID: volume.id, phase: "downloading")
        var source: String
        var temporary: String?
        defer { if let temporary { unlink(temporary) } }
        if let local = images.localFile(of: image) {
            source = local
        } else {
            let path = "\(conversionDirectory)/\(volume.id).image"
            temporary = path
            try await images.download(imageID, to: path, context: context) { done, total in
                progress.report(done: done, total: total)
            }
            ImageMetrics.downloaded.increment(by: Int64(image.size ?? 0))
            source = path
        }
        CrashPoint.volumeImageFetched.reach()
        // Nothing reads the data before this: not qemu-img, not a clone.
        let inspection = try ImageInspector.check(
            path: source, declared: image.diskFormat ?? "raw", volumeSize: volumeBytes,
            allowedVMDKTypes: Set(imageOptions.vmdkAllowedTypes))
        switch inspection.format {
        case .raw, .iso:
            // Cloned when the image is on the volumes' filesystem (the built-in store under the state path).
            try await driver.createVolume(id: volume.id, sizeGB: volume.size, copyingFile: source)
        default:
            await progress.set("converting")
            try await driver.createVolume(id: volume.id, sizeGB: volume.size)
            try await ImageConverter(imageOptions).convert(
                source: source, format: inspection.format, into: driver.localPath(forVolume: volume.id))
            ImageMetrics.converted.increment(by: inspection.virtualSize)
        }
        if let imageCache {
            do {
                try await imageCache.store(image, from: driver.localPath(forVolume: volume.id), virtualSize: inspection.virtualSize)
            } catch {
                log.warning("image \(imageID) could not be kept in the image cache: \(error)")
            }
        }
        log.info(
            "volume \(volume.id) written from image \(imageID)",
            metadata: ["format": "\(inspection.format.rawValue)", "virtual_size": "\(inspection.virtualSize)"])
        return image
    }

    /// Sends the volume's data to the image: the volume file itself for raw, else a conversion into the
    /// conversion folder; the volume goes back to what it was, and a failed upload takes its image out and tells
    /// the project.
    func copyVolumeToImage(_ args: VolumeRPC.CopyVolumeToImage, context: CallerContext) async {
        let log = logger(for: context)
        do {
            guard let volume = try await volumes.get(args.volumeID), volume.status == .uploading,
                volume.adminMetadata[Volume.uploadImageKey] == args.imageID
            else {
                log.info("upload of volume \(args.volumeID) skipped: it is gone or no longer uploading to \(args.imageID)")
                return
            }
            var temporary: String?
            defer { if let temporary { unlink(temporary) } }
            do {
                guard let images else { throw AshlarError(.invalidInput, "this volume service has no Image service configured") }
                guard let format = ImageInspection.Format(rawValue: args.diskFormat) else {
                    throw AshlarError(.invalidInput, "disk format \(args.diskFormat) cannot be written")
                }
                let progress = ProgressReporter(volumes: volumes, volumeID: volume.id, phase: "uploading")
                var source = driver.localPath(forVolume: volume.id)
                if format != .raw {
                    await progress.set("converting")
                    let path = "\(conversionDirectory)/\(volume.id).upload"
                    temporary = path
                    try await ImageConverter(imageOptions).export(source: source, format: format, to: path)
                    source = path
                    await progress.set("uploading")
                }
                try await images.upload(args.imageID, from: source, context: context) { done, total in
                    progress.report(done: done, total: total)
                }
                var info = stat()
                if stat(source, &info) == 0 { ImageMetrics.uploaded.increment(by: Int64(info.st_size)) }
                log.info("volume \(volume.id) uploaded to image \(args.imageID)", metadata: ["format": "\(args.diskFormat)"])
            } catch {
                log.error("upload of volume \(volume.id) to image \(args.imageID) failed: \(error)")
                try? await images?.delete(args.imageID, context: context)
                await tell(
                    volume.projectID, "VOLUME", volume.id, eventID: "VOLUME_VOLUME_003_004",
                    "copy volume to image: the volume could not be uploaded to image \(args.imageID), which was removed: \(Self.userReason(error))",
                    context: context)
            }
            try await volumes.endUpload(volume.id)
        } catch {
            log.error("upload of volume \(args.volumeID) could not be completed: \(error)")
        }
    }

    /// Recovery of an upload the service stopped in: the image never got all the data, so it is removed and the
    /// volume is as it was.
    func abandonUpload(_ volume: Volume, context: CallerContext) async {
        if let imageID = volume.adminMetadata[Volume.uploadImageKey] {
            try? await images?.delete(imageID, context: context)
        }
        do {
            try await volumes.endUpload(volume.id)
            await tell(
                volume.projectID, "VOLUME", volume.id, eventID: "VOLUME_VOLUME_003_004",
                "copy volume to image: the volume service stopped during the upload; the unfinished image was removed, upload the volume again.",
                context: context)
        } catch {
            logger.error("volume \(volume.id) could not be taken out of uploading: \(error)")
        }
    }
}

/// Bytes of images moved, for `/metrics`.
enum ImageMetrics {
    static let downloaded = Counter(label: "ashlar_image_bytes_total", dimensions: [("operation", "download")])
    static let uploaded = Counter(label: "ashlar_image_bytes_total", dimensions: [("operation", "upload")])
    static let converted = Counter(label: "ashlar_image_bytes_total", dimensions: [("operation", "convert")])
    static let cacheHits = Counter(label: "ashlar_image_cache_total", dimensions: [("result", "hit")])
    static let cacheMisses = Counter(label: "ashlar_image_cache_total", dimensions: [("result", "miss")])
}

/// Shows how far an image transfer has got in the volume's `volume_image_metadata` (`progress`), at most once a
/// second, so that a person polling `openstack volume show` sees it move.
final class ProgressReporter: Sendable {
    let volumes: VolumeStore
    let volumeID: String
    private let state: Mutex<(phase: String, last: ContinuousClock.Instant?)>

    init(volumes: VolumeStore, volumeID: String, phase: String) {
        self.volumes = volumes
        self.volumeID = volumeID
        self.state = Mutex((phase, nil))
    }

    /// Starts a new phase, shown at once.
    func set(_ phase: String) async {
        state.withLock { $0 = (phase, ContinuousClock.now) }
        await write(phase)
    }

    func report(done: Int64, total: Int64?) {
        let now = ContinuousClock.now
        let phase: String? = state.withLock { state in
            if let last = state.last, now - last < .seconds(1), done != total { return nil }
            state.last = now
            return state.phase
        }
        guard let phase else { return }
        let mib = done >> 20
        let text = total.flatMap { $0 > 0 ? "\(phase) \(done * 100 / $0)% (\(mib) of \($0 >> 20) MiB)" : nil } ?? "\(phase) \(mib) MiB"
        Task { await write(text) }
    }

    /// One compare-and-swap on the status and the map as read: a report that comes late, after the operation
    /// ended (the map rewritten, the status moved on), changes nothing.
    private func write(_ text: String) async {
        guard let volume = try? await volumes.get(volumeID), Self.phases.contains(volume.status) else { return }
        var metadata = volume.imageMetadata
        metadata[Volume.imageProgressKey] = text
        _ = try? await volumes.update(
            volumeID, where: VolumeCondition(statusIn: Self.phases, imageMetadataEquals: volume.imageMetadata),
            set: VolumeUpdate(imageMetadata: metadata))
    }

    private static let phases: Set<VolumeStatus> = [.downloading, .uploading]
}

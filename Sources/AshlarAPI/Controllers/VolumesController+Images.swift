import AshlarCore
import AshlarImages
import Foundation

extension VolumesController {
    /// The image a create names (`imageRef`, or `image_id` as older clients send it): it must exist for the
    /// caller and be active. Nil when the create names none.
    func imageSource(_ body: Fields, context: APIRequestContext) async throws -> Image? {
        let imageRef = try body.string("imageRef") ?? nil
        let imageID = try body.string("image_id") ?? nil
        guard let ref = imageRef ?? imageID else { return nil }
        guard let images = env.images else {
            throw AshlarError(
                .invalidInput, "Invalid input received: this deployment has no Image service to make volumes from.")
        }
        let image: Image
        do {
            image = try await images.show(ref, context: context.caller)
        } catch let error as AshlarError where error.code == .notFound {
            // Upstream's answer for an image that is not there or not the caller's to see.
            throw AshlarError(
                .invalidInput, "Invalid image identifier or unable to access requested image (\(ref)).")
        }
        guard image.isActive else {
            throw AshlarError(.invalidInput, "Invalid input received: Image \(image.id) is not active (it is \(image.status)).")
        }
        return image
    }

    /// GiB a volume from `image` needs at least when the create gives no size: its data, its disk and its
    /// `min_disk`, whichever is largest.
    static func sizeNeeded(_ image: Image) -> Int {
        max(gib(image.size ?? 0), gib(image.virtualSize ?? 0), image.minDisk, 1)
    }

    /// Refuses a volume of `size` GiB that `image` cannot fit in, with upstream's messages.
    static func checkFits(_ image: Image, size: Int) throws {
        let dataSize = gib(image.size ?? 0)
        if dataSize > size {
            throw AshlarError(
                .invalidInput,
                "Invalid input received: Size of specified image \(dataSize)GB is larger than volume size \(size)GB.")
        }
        if image.minDisk > size {
            throw AshlarError(
                .invalidInput,
                "Invalid input received: Volume size \(size)GB cannot be smaller than the image minDisk size \(image.minDisk)GB.")
        }
        if let virtual = image.virtualSize, gib(virtual) > size {
            throw AshlarError(
                .invalidInput,
                "Invalid input received: Image virtual size is \(gib(virtual))GB and doesn't fit in a volume of size \(size)GB.")
        }
    }

    static func gib(_ bytes: Int64) -> Int { Int(ImageInspector.gib(bytes)) }
}

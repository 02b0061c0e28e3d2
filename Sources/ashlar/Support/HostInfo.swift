import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Facts about this machine for the connector (not pure: reads the system).
enum HostInfo {
    /// `gethostname()`, as os-brick's `socket.gethostname()`.
    static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }

    /// The machine's architecture (`uname -m`), as os-brick's `platform.machine()`.
    static func machine() -> String {
        var info = utsname()
        guard uname(&info) == 0 else { return "x86_64" }
        let name = withUnsafeBytes(of: &info.machine) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return name.isEmpty ? "x86_64" : name
    }

    /// The local address this host uses to reach `host`: a UDP socket is connected (nothing is sent) and its
    /// local address read. nil when the host cannot be resolved or reached.
    static func localAddress(toward host: String, port: Int) -> String? {
        var hints = addrinfo()
        #if os(Linux)
            hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        #else
            hints.ai_socktype = SOCK_DGRAM
        #endif
        var result: UnsafeMutablePointer<addrinfo>?
        let bareHost = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        guard getaddrinfo(bareHost, String(port), &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(result) }
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let ai = entry {
            defer { entry = ai.pointee.ai_next }
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            guard connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else { continue }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let named = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            guard named == 0 else { continue }
            var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            let converted = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    getnameinfo($0, length, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST)
                }
            }
            guard converted == 0 else { continue }
            var address = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            // A link-local IPv6 address comes with its zone (`fe80::1%eth0`); Cinder wants the address.
            if let percent = address.firstIndex(of: "%") { address = String(address[..<percent]) }
            if !address.isEmpty { return address }
        }
        return nil
    }

    /// The contents of a small text file, or nil.
    static func read(_ path: String) -> String? {
        try? String(contentsOfFile: path, encoding: .utf8)
    }
}

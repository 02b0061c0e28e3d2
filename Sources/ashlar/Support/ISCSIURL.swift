import Foundation

/// The `iscsi://[user%password@]portal/iqn/lun` URL that libiscsi (and so QEMU's iscsi block driver, and tools
/// like iscsi-ls and qemu-img) take directly.
///
/// libiscsi's `iscsi_parse_url` does not percent-decode the user or the password (only the target IQN), so they
/// go in literally: splitting is at the first `?`, then the first `@`, then the first `%` (or `:`) of the user
/// part. Credentials that would be cut wrongly (an `@`, `?`, `/`, `#`, white space or control character in
/// either; `%` or `:` in the user) are left out of the URL, and `credentialsInURL` is false: libiscsi then takes
/// them from `LIBISCSI_CHAP_USERNAME` / `LIBISCSI_CHAP_PASSWORD`.
struct ISCSIURL: Equatable, Sendable {
    var url: String
    var credentialsInURL: Bool

    static func make(portal: String, iqn: String, lun: Int, username: String?, password: String?) -> ISCSIURL {
        var userinfo = ""
        var inURL = false
        if let username, let password, !username.isEmpty, !password.isEmpty {
            if safeInURL(username, forUser: true), safeInURL(password, forUser: false) {
                userinfo = "\(username)%\(password)@"
                inURL = true
            }
        }
        return ISCSIURL(
            url: "iscsi://\(userinfo)\(bracketed(portal))/\(encodeTarget(iqn))/\(lun)", credentialsInURL: inURL)
    }

    /// Whether a credential survives libiscsi's splitting as it is.
    static func safeInURL(_ s: String, forUser: Bool) -> Bool {
        let forbidden: Set<Character> = forUser ? ["@", "?", "/", "#", "%", ":"] : ["@", "?", "/", "#"]
        return s.unicodeScalars.allSatisfy { scalar in
            !(scalar.properties.isWhitespace || scalar.value < 0x20 || scalar.value == 0x7f
                || forbidden.contains(Character(scalar)))
        }
    }

    /// An IPv6 portal without brackets (`fd00::1:3260`) gets them around the address (`[fd00::1]:3260`); a
    /// bare IPv6 address without a port is bracketed whole. Anything else is left as it is.
    static func bracketed(_ portal: String) -> String {
        guard !portal.hasPrefix("["), portal.filter({ $0 == ":" }).count > 1 else { return portal }
        // Cinder writes `address:port`; the part after the last colon is the port when it is a plain number and
        // the rest is still an IPv6 address (more than one colon left).
        if let last = portal.lastIndex(of: ":") {
            let address = portal[..<last]
            let port = portal[portal.index(after: last)...]
            if !port.isEmpty, port.allSatisfy(\.isASCII), port.allSatisfy(\.isNumber),
                address.filter({ $0 == ":" }).count > 1
            {
                return "[\(address)]:\(port)"
            }
        }
        return "[\(portal)]"
    }

    /// libiscsi percent-decodes the target, so anything outside an IQN's usual characters is encoded.
    static func encodeTarget(_ iqn: String) -> String {
        iqn.addingPercentEncoding(withAllowedCharacters: targetAllowed) ?? iqn
    }

    static let targetAllowed = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:,")
}

import AshlarCore
import AshlarVolume
import Foundation
import HTTPTypes
import Testing

/// One malformed request of the sweep.
struct Probe: Sendable, CustomStringConvertible {
    var method: HTTPRequest.Method
    /// May contain `{vol}`, `{type}`, `{ptype}`, `{snap}`, `{host}`, `{node}` (the path and the body).
    var path: String
    var body: String?
    var version: String?
    var token: String?
    /// The exact status when it is known; otherwise any 4xx.
    var expected: Int?

    init(
        _ method: HTTPRequest.Method, _ path: String, _ body: String? = nil, version: String? = nil,
        token: String? = nil, expect expected: Int? = nil
    ) {
        self.method = method
        self.path = path
        self.body = body
        self.version = version
        self.token = token
        self.expected = expected
    }

    var description: String {
        let shownBody = body.map { $0.count > 80 ? String($0.prefix(80)) + "…(\($0.utf8.count) bytes)" : $0 } ?? "-"
        return "\(method) \(path.prefix(120)) [\(version ?? "3.0")] \(shownBody)"
    }
}

/// Malformed requests across every route: each must get a 4xx with a Cinder fault body, never a 500.
@Suite("Never 500: malformed requests get 4xx faults", .timeLimit(.minutes(3)))
struct NeverFiveHundredTests {
    static let long = String(repeating: "x", count: 100_000)
    static let emoji = String(repeating: "💾", count: 5_000)
    static let deep = String(repeating: "[", count: 520) + String(repeating: "]", count: 520)
    static let deepObject =
        String(repeating: "{\"volume\":", count: 300) + "{}" + String(repeating: "}", count: 300)

    /// Bodies that are not the object a route wants: empty, not JSON, arrays, scalars.
    static let junkBodies: [String] = [
        "", " ", "{", "}", "[]", "[{}]", "null", "true", "0", "-1", "\"text\"", "{}", "{\"\": {}}", deep,
        "\u{00}", "{\"a\":1,}", "{'volume': {'size': 1}}", "\u{FEFF}{}",
    ]

    /// Routes taking a JSON body, with the method.
    static let bodyRoutes: [(HTTPRequest.Method, String)] = [
        (.post, "/v3/volumes"), (.put, "/v3/volumes/{vol}"), (.post, "/v3/volumes/{vol}/action"),
        (.post, "/v3/volumes/{vol}/metadata"), (.put, "/v3/volumes/{vol}/metadata"),
        (.put, "/v3/volumes/{vol}/metadata/k"), (.post, "/v3/types"), (.put, "/v3/types/{type}"),
        (.post, "/v3/types/{ptype}/action"), (.post, "/v3/types/{type}/extra_specs"),
        (.put, "/v3/types/{type}/extra_specs/k"), (.put, "/v3/os-services/enable"),
        (.put, "/v3/os-services/disable"), (.put, "/v3/os-services/disable-log-reason"),
        (.post, "/v3/admin/volumes"), (.post, "/v3/admin/volumes/{vol}/action"), (.post, "/v3/snapshots"),
        (.put, "/v3/snapshots/{snap}"), (.post, "/v3/snapshots/{snap}/action"),
        (.post, "/v3/snapshots/{snap}/metadata"), (.put, "/v3/snapshots/{snap}/metadata"),
        (.put, "/v3/snapshots/{snap}/metadata/k"), (.put, "/v3/os-quota-sets/admin"),
    ]

    /// Bad bodies, missing keys and a stale ETag for the metadata routes at `base`: one `MetadataController`
    /// serves them for every resource, so every resource gets the same probes.
    static func metadataProbes(_ base: String) -> [Probe] {
        var probes: [Probe] = []
        for body in [
            #"{"metadata": []}"#, #"{"metadata": {"k": 5}}"#, #"{"metadata": null}"#, #"{"metadata": "k"}"#,
            #"{"meta": {"k": "v"}}"#, #"{"metadata": {"k": "\#(String(repeating: "v", count: 256))"}}"#,
        ] {
            probes.append(Probe(.post, base, body, expect: 400))
            probes.append(Probe(.put, base, body, expect: 400))
        }
        for body in [
            #"{"meta": []}"#, #"{"meta": {"x": "1"}}"#, #"{"meta": {"k": "1", "j": "2"}}"#, #"{"meta": {"k": 1}}"#,
            #"{"meta": {}}"#, #"{"metadata": {"k": "1"}}"#,
        ] {
            probes.append(Probe(.put, "\(base)/k", body, expect: 400))
        }
        probes.append(Probe(.get, "\(base)/nope", expect: 404))
        probes.append(Probe(.delete, "\(base)/nope", expect: 404))
        probes.append(Probe(.put, base, #"{"metadata": {"x": "y"}}"#, version: "3.15", expect: 412))
        return probes
    }

    static var probes: [Probe] {
        var probes: [Probe] = []
        // Junk bodies on every body route.
        for (method, path) in bodyRoutes {
            for body in junkBodies { probes.append(Probe(method, path, body, expect: 400)) }
        }
        probes.append(Probe(.put, "/v3/default-types/p1", "[]", version: "3.62", expect: 400))
        probes.append(Probe(.put, "/v3/default-types/p1", "", version: "3.62", expect: 400))
        probes.append(Probe(.put, "/v3/default-types/p1", "{\"default_type\": []}", version: "3.62", expect: 400))

        // Volume create: wrong types everywhere.
        let createBodies: [String] = [
            #"{"volume": null}"#, #"{"volume": "x"}"#, #"{"volume": []}"#, #"{"volume": 1}"#, #"{"volume": {}}"#,
            #"{"volume": {"size": []}}"#, #"{"volume": {"size": {}}}"#, #"{"volume": {"size": 1e300}}"#,
            #"{"volume": {"size": 99999999999999999999999}}"#, #"{"volume": {"size": 2147483648}}"#,
            #"{"volume": {"size": -0.5}}"#, #"{"volume": {"size": "1 "}}"#, #"{"volume": {"size": "0x10"}}"#,
            #"{"volume": {"size": "٣"}}"#, #"{"volume": {"size": "２"}}"#, #"{"volume": {"size": NaN}}"#,
            #"{"volume": {"size": 1, "name": 5}}"#, #"{"volume": {"size": 1, "name": ["a"]}}"#,
            #"{"volume": {"size": 1, "name": {"a": "b"}}}"#, #"{"volume": {"size": 1, "description": true}}"#,
            #"{"volume": {"size": 1, "name": "\#(long)"}}"#, #"{"volume": {"size": 1, "name": "\#(emoji)"}}"#,
            #"{"volume": {"size": 1, "metadata": "x"}}"#, #"{"volume": {"size": 1, "metadata": []}}"#,
            #"{"volume": {"size": 1, "metadata": {"k": 1}}}"#, #"{"volume": {"size": 1, "metadata": {"k": null}}}"#,
            #"{"volume": {"size": 1, "metadata": {"": "v"}}}"#,
            #"{"volume": {"size": 1, "metadata": {"k": {"a": "b"}}}}"#,
            #"{"volume": {"size": 1, "volume_type": 5}}"#, #"{"volume": {"size": 1, "volume_type": []}}"#,
            #"{"volume": {"size": 1, "availability_zone": 5}}"#,
            #"{"volume": {"size": 1, "availability_zone": "mars"}}"#,
            #"{"volume": {"size": 1, "snapshot_id": "not-a-uuid"}}"#, #"{"volume": {"size": 1, "snapshot_id": 5}}"#,
            #"{"volume": {"size": 1, "source_volid": []}}"#, #"{"volume": {"size": 1, "imageRef": 5}}"#,
            #"{"volume": {"size": 1, "multiattach": true}}"#, #"{"volume": {"size": 1, "multiattach": "yes"}}"#,
            #"{"volumé": {"size": 1}}"#, #"{"VOLUME": {"size": 1}}"#, deepObject,
        ]
        for body in createBodies { probes.append(Probe(.post, "/v3/volumes", body)) }
        probes.append(
            Probe(.post, "/v3/volumes", #"{"volume": {"size": 1, "flavor": 1}}"#, version: "3.53", expect: 400))
        probes.append(Probe(.post, "/v3/volumes", #"{"volume": {"size": 1, "volume_type": "nöpe💾"}}"#, expect: 404))
        probes.append(
            Probe(.post, "/v3/volumes", #"{"volume": {"size": 1, "snapshot_id": "\#(randomID())"}}"#, expect: 404))
        probes.append(
            Probe(.post, "/v3/volumes", #"{"volume": {"size": 1, "source_volid": "\#(randomID())"}}"#, expect: 404))
        probes.append(
            Probe(.post, "/v3/volumes", #"{"volume": {"size": 1, "description": "\#(long)\#(long)"}}"#, expect: 413))

        // Lists and shows: bad query parameters and ids.
        for query in [
            "limit=abc", "limit=-5", "limit=1e3", "limit=99999999999999999999999", "offset=x", "offset=-1",
            "marker=nope", "marker=\(randomID())", "sort=name:sideways", "sort_key=bogus", "sort=size&sort_key=name",
            "sort_dir=up", "metadata=notadict", "metadata=%7B%27k%27", "size=abc", "size=%E2%9C%93",
            "with_count=maybe",
        ] {
            probes.append(Probe(.get, "/v3/volumes?\(query)", version: "3.45"))
            probes.append(Probe(.get, "/v3/volumes/detail?\(query)", version: "3.45"))
        }
        probes.append(Probe(.get, "/v3/volumes?bootable=maybe", version: "3.2", expect: 400))
        probes.append(Probe(.get, "/v3/volumes?created_at=junk", version: "3.60", expect: 400))
        probes.append(Probe(.get, "/v3/volumes?updated_at=gt:yesterday", version: "3.60", expect: 400))
        probes.append(Probe(.get, "/v3/volumes/summary?size=x", version: "3.12", expect: 400))
        probes.append(Probe(.get, "/v3/volumes/summary", expect: 404))
        probes.append(Probe(.get, "/v3/types?is_public=maybe", expect: 400))
        probes.append(Probe(.get, "/v3/types?extra_specs=nope", version: "3.52", expect: 400))
        probes.append(Probe(.get, "/v3/types?limit=x", expect: 400))
        probes.append(Probe(.get, "/v3/types?marker=nope", expect: 404))
        probes.append(Probe(.get, "/v3/types?sort=name:up", expect: 400))
        for id in [randomID(), "x", String(repeating: "9", count: 5000), "%F0%9F%92%BE", "..", "%2e%2e", "%00"] {
            probes.append(Probe(.get, "/v3/volumes/\(id)", expect: 404))
            probes.append(Probe(.put, "/v3/volumes/\(id)", #"{"volume": {"name": "x"}}"#, expect: 404))
            probes.append(Probe(.delete, "/v3/volumes/\(id)", expect: 404))
            probes.append(
                Probe(.post, "/v3/volumes/\(id)/action", #"{"os-set_bootable": {"bootable": true}}"#, expect: 404))
            probes.append(Probe(.get, "/v3/volumes/\(id)/metadata", expect: 404))
            probes.append(Probe(.get, "/v3/types/\(id)", expect: 404))
            probes.append(Probe(.get, "/v3/types/\(id)/extra_specs", expect: 404))
            probes.append(Probe(.delete, "/v3/types/\(id)", expect: 404))
        }

        // Volume update.
        for body in [
            #"{"volume": {"name": 5}}"#, #"{"volume": {"metadata": [1]}}"#, #"{"volume": {"metadata": {"k": 1}}}"#,
            #"{"volume": {"description": {}}}"#, #"{"volume": {"display_name": []}}"#,
            #"{"volume": {"name": "\#(long)"}}"#, #"{"volume": null}"#, #"{"volume": "x"}"#,
        ] {
            probes.append(Probe(.put, "/v3/volumes/{vol}", body, expect: 400))
        }
        probes.append(Probe(.put, "/v3/volumes/{vol}", #"{"volume": {}}"#, version: "3.53", expect: 400))
        probes.append(Probe(.put, "/v3/volumes/{vol}", #"{"volume": {"size": 9}}"#, version: "3.53", expect: 400))
        probes.append(Probe(.delete, "/v3/volumes/{vol}?cascade=maybe", expect: 400))
        probes.append(Probe(.delete, "/v3/volumes/{vol}?force=perhaps", version: "3.23", expect: 400))

        // Actions.
        for body in [
            #"{}"#, #"{"a": {}, "b": {}}"#, #"{"os-set_bootable": []}"#, #"{"os-set_bootable": "x"}"#,
            #"{"os-set_bootable": 1}"#, #"{"os-set_bootable": {}}"#, #"{"os-set_bootable": {"bootable": "maybe"}}"#,
            #"{"os-set_bootable": {"bootable": null}}"#, #"{"os-set_bootable": {"bootable": 2}}"#,
            #"{"os-reset_status": {"status": 5}}"#, #"{"os-reset_status": {"status": "bogus"}}"#,
            #"{"os-reset_status": {"status": "deleting"}}"#, #"{"os-reset_status": {"status": "in-use"}}"#,
            #"{"os-reset_status": {"bogus": 1}}"#, #"{"os-reset_status": {}}"#, #"{"os-reset_status": []}"#,
            #"{"os-reset_status": {"attach_status": "x"}}"#, #"{"os-reset_status": {"migration_status": 5}}"#,
            #"{"os-reset_status": {"status": "\#(long)"}}"#, #"{"os-unset_image_metadata": {"key": 5}}"#,
            #"{"os-unset_image_metadata": {}}"#, #"{"os-set_image_metadata": {"metadata": "x"}}"#,
            #"{"os-set_image_metadata": {"metadata": {"k": []}}}"#, #"{"os-set_image_metadata": null}"#,
            #"{"os-update_readonly_flag": {"readonly": []}}"#, #"{"os-update_readonly_flag": {}}"#,
            #"{"os-fly": {}}"#, #"{"": {}}"#, #"{"💾": {}}"#, #"{"\#(long)": {}}"#,
        ] {
            probes.append(Probe(.post, "/v3/volumes/{vol}/action", body, expect: 400))
        }
        probes.append(
            Probe(.post, "/v3/volumes/{vol}/action", #"{"os-unset_image_metadata": {"key": "none"}}"#, expect: 404))

        // Volume metadata (`If-Match` is added for the 412 probe below).
        probes += metadataProbes("/v3/volumes/{vol}/metadata")

        // Types.
        for body in [
            #"{"volume_type": []}"#, #"{"volume_type": {"name": 5}}"#, #"{"volume_type": {"name": ""}}"#,
            #"{"volume_type": {"name": "  "}}"#, #"{"volume_type": {"name": "x", "extra_specs": []}}"#,
            #"{"volume_type": {"name": "x", "bogus": 1}}"#,
            #"{"volume_type": {"name": "x", "os-volume-type-access:is_public": []}}"#,
            #"{"volume_type": {"name": "\#(long)"}}"#, #"{"volume_type": {"name": "x", "description": 5}}"#,
        ] {
            probes.append(Probe(.post, "/v3/types", body, expect: 400))
        }
        probes.append(Probe(.post, "/v3/types", #"{"volume_type": {"name": "sweep"}}"#, expect: 409))
        for body in [
            #"{"volume_type": {}}"#, #"{"volume_type": {"name": 5}}"#, #"{"volume_type": {"is_public": "maybe"}}"#,
            #"{"volume_type": {"bogus": true}}"#,
        ] {
            probes.append(Probe(.put, "/v3/types/{type}", body, expect: 400))
        }
        for body in [#"{"extra_specs": []}"#, #"{"extra_specs": {"k": 1}}"#, #"{"specs": {}}"#] {
            probes.append(Probe(.post, "/v3/types/{type}/extra_specs", body, expect: 400))
        }
        for body in [#"{"k": 5}"#, #"{"j": "v"}"#, #"{"k": "v", "j": "v"}"#] {
            probes.append(Probe(.put, "/v3/types/{type}/extra_specs/k", body, expect: 400))
        }
        probes.append(Probe(.get, "/v3/types/{type}/extra_specs/nope", expect: 404))
        probes.append(Probe(.delete, "/v3/types/{type}/extra_specs/nope", expect: 404))
        probes.append(Probe(.get, "/v3/types/{type}/os-volume-type-access", expect: 404))
        for body in [
            #"{"bogus": {}}"#, #"{"addProjectAccess": {"project": 5}}"#, #"{"addProjectAccess": {}}"#,
            #"{"addProjectAccess": []}"#, #"{"addProjectAccess": {}, "removeProjectAccess": {}}"#,
        ] {
            probes.append(Probe(.post, "/v3/types/{ptype}/action", body, expect: 400))
        }
        probes.append(
            Probe(.post, "/v3/types/{ptype}/action", #"{"removeProjectAccess": {"project": "p9"}}"#, expect: 404))
        probes.append(Probe(.post, "/v3/types/{type}/action", #"{"addProjectAccess": {"project": "p9"}}"#, expect: 400))
        probes.append(Probe(.delete, "/v3/types/{type}", expect: 400))  // in use

        // Default types.
        probes.append(Probe(.get, "/v3/default-types", version: "3.61", expect: 404))
        probes.append(Probe(.get, "/v3/default-types/nope", version: "3.62", expect: 404))
        probes.append(Probe(.delete, "/v3/default-types/nope", version: "3.62", expect: 404))
        for body in [
            #"{"default_type": {"volume_type": 5}}"#, #"{"default_type": {}}"#, #"{"default_type": "x"}"#,
            #"{"default_type": {"volume_type": "x", "extra": 1}}"#,
        ] {
            probes.append(Probe(.put, "/v3/default-types/p1", body, version: "3.62", expect: 400))
        }
        probes.append(
            Probe(
                .put, "/v3/default-types/p1", #"{"default_type": {"volume_type": "nope"}}"#, version: "3.62",
                expect: 404))

        // Services.
        for body in [
            #"{}"#, #"{"host": 5, "binary": "cinder-volume"}"#, #"{"binary": "cinder-volume"}"#, #"{"host": "{host}"}"#,
            #"{"host": "{host}", "binary": []}"#, #"{"host": "{host}", "binary": null}"#,
        ] {
            probes.append(Probe(.put, "/v3/os-services/disable", body, expect: 400))
        }
        for reason in [#""""#, #""  ""#, "5", "null", "[]", "\"\(String(repeating: "r", count: 256))\""] {
            probes.append(
                Probe(
                    .put, "/v3/os-services/disable-log-reason",
                    #"{"host": "{host}", "binary": "cinder-volume", "disabled_reason": \#(reason)}"#, expect: 400))
        }
        probes.append(
            Probe(.put, "/v3/os-services/disable", #"{"host": "nowhere", "binary": "cinder-volume"}"#, expect: 404))
        probes.append(
            Probe(.put, "/v3/os-services/enable", #"{"host": "{host}", "binary": "cinder-nothing"}"#, expect: 404))
        probes.append(
            Probe(.put, "/v3/os-services/reboot", #"{"host": "{host}", "binary": "cinder-volume"}"#, expect: 404))

        // Extend and revert.
        for body in [
            #"{"os-extend": {}}"#, #"{"os-extend": null}"#, #"{"os-extend": []}"#, #"{"os-extend": "2"}"#,
            #"{"os-extend": {"new_size": null}}"#, #"{"os-extend": {"new_size": "x"}}"#,
            #"{"os-extend": {"new_size": 0}}"#, #"{"os-extend": {"new_size": -1}}"#, #"{"os-extend": {"new_size": 1}}"#,
            #"{"os-extend": {"new_size": 1.5}}"#, #"{"os-extend": {"new_size": []}}"#,
            #"{"os-extend": {"new_size": 2147483648}}"#, #"{"os-extend": {"new_size": 1e300}}"#,
            #"{"os-extend": {"new_size": 2, "bogus": 1}}"#, #"{"os-extend": {"size": 2}}"#,
        ] {
            probes.append(Probe(.post, "/v3/volumes/{vol}/action", body, expect: 400))
        }
        probes.append(Probe(.post, "/v3/volumes/{vol}/action", #"{"os-extend": {"new_size": 5000}}"#, expect: 413))
        for body in [
            #"{"revert": {}}"#, #"{"revert": null}"#, #"{"revert": []}"#, #"{"revert": "{snap}"}"#,
            #"{"revert": {"snapshot_id": null}}"#, #"{"revert": {"snapshot_id": 5}}"#,
            #"{"revert": {"snapshot_id": "x"}}"#, #"{"revert": {"snapshot_id": ["{snap}"]}}"#,
            #"{"revert": {"snapshot_id": "{snap}", "bogus": 1}}"#,
        ] {
            probes.append(Probe(.post, "/v3/volumes/{vol}/action", body, version: "3.40", expect: 400))
        }
        probes.append(
            Probe(
                .post, "/v3/volumes/{vol}/action", #"{"revert": {"snapshot_id": "\#(randomID())"}}"#, version: "3.40",
                expect: 404))
        for version in ["3.0", "3.39"] {
            probes.append(
                Probe(
                    .post, "/v3/volumes/{vol}/action", #"{"revert": {"snapshot_id": "{snap}"}}"#, version: version,
                    expect: 404))
        }

        // Snapshot create.
        for body in [
            #"{"snapshot": null}"#, #"{"snapshot": []}"#, #"{"snapshot": "x"}"#, #"{"snapshot": 1}"#,
            #"{"snapshot": {}}"#, #"{"snapshot": {"volume_id": 5}}"#,
            #"{"snapshot": {"volume_id": "x"}}"#, #"{"snapshot": {"volume_id": []}}"#,
            #"{"snapshot": {"volume_id": "{vol}x"}}"#, #"{"snapshot": {"volume_id": "{vol}", "name": 5}}"#,
            #"{"snapshot": {"volume_id": "{vol}", "name": "\#(long)"}}"#,
            #"{"snapshot": {"volume_id": "{vol}", "description": []}}"#,
            #"{"snapshot": {"volume_id": "{vol}", "metadata": "x"}}"#,
            #"{"snapshot": {"volume_id": "{vol}", "metadata": {"k": 1}}}"#,
            #"{"snapshot": {"volume_id": "{vol}", "metadata": {"": "v"}}}"#,
            #"{"snapshot": {"volume_id": "{vol}", "force": "maybe"}}"#,
            #"{"snapshot": {"volume_id": "{vol}", "force": 5}}"#, #"{"snapshot": {"volume_id": "{vol}", "force": []}}"#,
            #"{"snapshots": {"volume_id": "{vol}"}}"#, #"{"volume": {"volume_id": "{vol}"}}"#,
        ] {
            probes.append(Probe(.post, "/v3/snapshots", body, expect: 400))
        }
        probes.append(
            Probe(.post, "/v3/snapshots", #"{"snapshot": {"volume_id": "{vol}", "bogus": 1}}"#, version: "3.53", expect: 400))
        probes.append(
            Probe(
                .post, "/v3/snapshots", #"{"snapshot": {"volume_id": "{vol}", "force": false}}"#, version: "3.66",
                expect: 400))
        probes.append(Probe(.post, "/v3/snapshots", #"{"snapshot": {"volume_id": "\#(randomID())"}}"#, expect: 404))
        probes.append(Probe(.post, "/v3/snapshots", #"{"snapshot": {"volume_id": null}}"#, expect: 404))

        // Snapshot update, actions, lists and ids.
        for body in [
            #"{"snapshot": {}}"#, #"{"snapshot": {"name": 5}}"#, #"{"snapshot": {"description": []}}"#,
            #"{"snapshot": null}"#, #"{"snapshot": "x"}"#, #"{"snapshot": {"name": "\#(long)"}}"#,
            #"{"volume": {"name": "x"}}"#,
        ] {
            probes.append(Probe(.put, "/v3/snapshots/{snap}", body, expect: 400))
        }
        probes.append(Probe(.put, "/v3/snapshots/{snap}", #"{"snapshot": {"size": 9}}"#, version: "3.53", expect: 400))
        for body in [
            #"{}"#, #"{"a": {}, "b": {}}"#, #"{"os-reset_status": []}"#, #"{"os-reset_status": "error"}"#,
            #"{"os-reset_status": {}}"#, #"{"os-reset_status": {"status": 5}}"#,
            #"{"os-reset_status": {"status": null}}"#, #"{"os-reset_status": {"status": "bogus"}}"#,
            #"{"os-reset_status": {"status": "\#(long)"}}"#,
            #"{"os-reset_status": {"status": "available", "bogus": 1}}"#, #"{"os-force_delete": "now"}"#,
            #"{"os-update_snapshot_status": {}}"#, #"{"os-update_snapshot_status": {"status": "error"}}"#,
            #"{"os-update_snapshot_status": {"status": "available"}}"#,
            #"{"os-update_snapshot_status": {"status": "bogus"}}"#,
            #"{"os-update_snapshot_status": {"status": "available", "progress": 5}}"#,
            #"{"os-update_snapshot_status": {"status": "available", "bogus": 1}}"#, #"{"os-fly": {}}"#,
            #"{"": {}}"#, #"{"💾": {}}"#,
        ] {
            probes.append(Probe(.post, "/v3/snapshots/{snap}/action", body, expect: 400))
        }
        for query in [
            "limit=abc", "limit=-5", "offset=x", "marker=nope", "marker=\(randomID())", "sort=name:sideways",
            "sort_key=bogus", "sort_dir=up", "metadata=notadict", "consumes_quota=maybe", "with_count=maybe",
        ] {
            probes.append(Probe(.get, "/v3/snapshots?\(query)", version: "3.45"))
            probes.append(Probe(.get, "/v3/snapshots/detail?\(query)", version: "3.45"))
        }
        for id in [randomID(), "x", String(repeating: "9", count: 5000), "%F0%9F%92%BE", "%00"] {
            probes.append(Probe(.get, "/v3/snapshots/\(id)", expect: 404))
            probes.append(Probe(.put, "/v3/snapshots/\(id)", #"{"snapshot": {"name": "x"}}"#, expect: 404))
            probes.append(Probe(.delete, "/v3/snapshots/\(id)", expect: 404))
            probes.append(
                Probe(.post, "/v3/snapshots/\(id)/action", #"{"os-reset_status": {"status": "error"}}"#, expect: 404))
            probes.append(Probe(.get, "/v3/snapshots/\(id)/metadata", expect: 404))
        }

        // Snapshot metadata.
        probes += metadataProbes("/v3/snapshots/{snap}/metadata")

        // Quota sets.
        for body in [
            #"{"quota_set": {}}"#, #"{"quota_set": null}"#, #"{"quota_set": []}"#, #"{"quota_set": "x"}"#,
            #"{"quota_set": {"volumes": "x"}}"#, #"{"quota_set": {"volumes": null}}"#,
            #"{"quota_set": {"volumes": 1.5}}"#, #"{"quota_set": {"volumes": true}}"#,
            #"{"quota_set": {"volumes": []}}"#, #"{"quota_set": {"volumes": -2}}"#,
            #"{"quota_set": {"volumes": 2147483648}}"#, #"{"quota_set": {"volumes": 99999999999999999999999}}"#,
            #"{"quota_set": {"bogus": 1}}"#, #"{"quota_set": {"volumes": 5}, "extra": 1}"#,
            #"{"quota_set": {"volumes": 1}}"#, #"{"quota_set": {"gigabytes": 1}}"#,
            #"{"quota_set": {"snapshots": 0}}"#,
        ] {
            probes.append(Probe(.put, "/v3/os-quota-sets/admin", body, expect: 400))
        }
        probes.append(Probe(.get, "/v3/os-quota-sets/admin?usage=maybe", expect: 400))
        probes.append(
            Probe(
                .put, "/v3/os-quota-sets/\(String(repeating: "p", count: 256))", #"{"quota_set": {"volumes": 5}}"#,
                expect: 400))

        // Attachments (3.27+; os-complete 3.44; mode 3.54). `{att}` is reserved on a volume of its own.
        for (method, path, version) in [
            (HTTPRequest.Method.post, "/v3/attachments", "3.54"), (.put, "/v3/attachments/{att}", "3.54"),
            (.post, "/v3/attachments/{att}/action", "3.54"),
        ] {
            for body in junkBodies { probes.append(Probe(method, path, body, version: version, expect: 400)) }
            probes.append(Probe(method, path, #"{"attachment": {"connector": {}}}"#, version: "3.26", expect: 404))
        }
        for body in [
            #"{"attachment": null}"#, #"{"attachment": []}"#, #"{"attachment": "x"}"#, #"{"attachment": {}}"#,
            #"{"attachment": {"volume_uuid": null}}"#, #"{"attachment": {"volume_uuid": 5}}"#,
            #"{"attachment": {"volume_uuid": "x"}}"#, #"{"attachment": {"volume_uuid": ["{vol}"]}}"#,
            #"{"attachment": {"volume_uuid": "{vol}", "instance_uuid": "x"}}"#,
            #"{"attachment": {"volume_uuid": "{vol}", "instance_uuid": 5}}"#,
            #"{"attachment": {"volume_uuid": "{vol}", "connector": "x"}}"#,
            #"{"attachment": {"volume_uuid": "{vol}", "connector": []}}"#,
            #"{"attachment": {"volume_uuid": "{vol}", "mode": "rx"}}"#,
            #"{"attachment": {"volume_uuid": "{vol}", "mode": 5}}"#,
            #"{"attachment": {"volume_uuid": "{vol}", "mode": null}}"#,
            #"{"attachment": {"volume_uuid": "{vol}", "bogus": 1}}"#, #"{"attachments": {"volume_uuid": "{vol}"}}"#,
            #"{"attachment": {"volume_uuid": "\#(long)"}}"#,
        ] {
            probes.append(Probe(.post, "/v3/attachments", body, version: "3.54", expect: 400))
        }
        probes.append(
            Probe(.post, "/v3/attachments", #"{"attachment": {"volume_uuid": "{vol}", "mode": "ro"}}"#, version: "3.53",
                expect: 400))
        probes.append(
            Probe(.post, "/v3/attachments", #"{"attachment": {"volume_uuid": "\#(randomID())"}}"#, version: "3.54",
                expect: 404))
        // The held volume is reserved: a second attachment of it is refused.
        probes.append(
            Probe(.post, "/v3/attachments", #"{"attachment": {"volume_uuid": "{held}"}}"#, version: "3.54", expect: 400))
        for body in [
            #"{"attachment": {}}"#, #"{"attachment": {"connector": {}}}"#, #"{"attachment": {"connector": null}}"#,
            #"{"attachment": {"connector": "x"}}"#, #"{"attachment": {"connector": [1]}}"#, #"{"attachment": null}"#,
            #"{"attachment": {"connector": {"host": "h"}, "mode": "ro"}}"#, #"{"connector": {"host": "h"}}"#,
        ] {
            probes.append(Probe(.put, "/v3/attachments/{att}", body, version: "3.54", expect: 400))
        }
        for body in [
            #"{}"#, #"{"os-complete": {}, "x": {}}"#, #"{"os-complete": []}"#, #"{"os-complete": "x"}"#,
            #"{"os-fly": {}}"#, #"{"": {}}"#, #"{"os-complete": null}"#,
        ] {
            probes.append(Probe(.post, "/v3/attachments/{att}/action", body, version: "3.54", expect: 400))
        }
        probes.append(Probe(.post, "/v3/attachments/{att}/action", #"{"os-complete": null}"#, version: "3.43", expect: 404))
        for id in [randomID(), "x", String(repeating: "9", count: 5000), "%F0%9F%92%BE", "%00"] {
            probes.append(Probe(.get, "/v3/attachments/\(id)", version: "3.54", expect: 404))
            probes.append(
                Probe(.put, "/v3/attachments/\(id)", #"{"attachment": {"connector": {"host": "h"}}}"#, version: "3.54",
                    expect: 404))
            probes.append(Probe(.delete, "/v3/attachments/\(id)", version: "3.54", expect: 404))
            probes.append(
                Probe(.post, "/v3/attachments/\(id)/action", #"{"os-complete": null}"#, version: "3.54", expect: 404))
        }
        for query in ["limit=abc", "limit=-5", "offset=x", "marker=nope", "marker=\(randomID())", "sort=status:up", "sort_key=bogus"] {
            probes.append(Probe(.get, "/v3/attachments?\(query)", version: "3.54"))
            probes.append(Probe(.get, "/v3/attachments/detail?\(query)", version: "3.54"))
        }
        for path in ["/v3/attachments", "/v3/attachments/detail", "/v3/attachments/{att}"] {
            probes.append(Probe(.get, path, version: "3.26", expect: 404))
        }
        probes.append(Probe(.delete, "/v3/attachments/{att}", version: "3.26", expect: 404))

        // Legacy attach actions.
        for body in [
            #"{"os-attach": {}}"#, #"{"os-attach": null}"#, #"{"os-attach": {"mountpoint": "/dev/vdb"}}"#,
            #"{"os-attach": {"instance_uuid": "{vol}"}}"#,
            #"{"os-attach": {"instance_uuid": "{vol}", "host_name": "h", "mountpoint": "/dev/vdb"}}"#,
            #"{"os-attach": {"instance_uuid": "x", "mountpoint": "/dev/vdb"}}"#,
            #"{"os-attach": {"instance_uuid": "{vol}", "mountpoint": 5}}"#,
            #"{"os-attach": {"instance_uuid": "{vol}", "mountpoint": "/dev/vdb", "mode": "rx"}}"#,
            #"{"os-attach": {"instance_uuid": "{vol}", "mountpoint": "/dev/vdb", "bogus": 1}}"#,
            #"{"os-attach": {"host_name": "h", "mountpoint": "\#(long)"}}"#, #"{"os-attach": []}"#,
            #"{"os-initialize_connection": {}}"#, #"{"os-initialize_connection": null}"#,
            #"{"os-initialize_connection": {"connector": "x"}}"#, #"{"os-initialize_connection": {"connector": {}}}"#,
            #"{"os-initialize_connection": {"connector": {"host": "h"}, "x": 1}}"#,
            #"{"os-terminate_connection": {}}"#, #"{"os-terminate_connection": {"connector": []}}"#,
            #"{"os-detach": {"attachment_id": "x"}}"#, #"{"os-detach": {"attachment_id": 5}}"#,
            #"{"os-detach": {"bogus": 1}}"#, #"{"os-detach": "x"}"#, #"{"os-force_detach": {"connector": "x"}}"#,
            #"{"os-force_detach": {"attachment_id": []}}"#, #"{"os-force_detach": {"bogus": 1}}"#,
            #"{"os-begin_detaching": {}}"#, #"{"os-reserve": "x"}"#, #"{"os-unreserve": 5}"#,
        ] {
            probes.append(Probe(.post, "/v3/volumes/{vol}/action", body, expect: 400))
        }
        // The held volume is reserved by an attachment: neither reserved again nor attached by the old API.
        probes.append(Probe(.post, "/v3/volumes/{held}/action", #"{"os-reserve": null}"#, expect: 400))
        probes.append(
            Probe(.post, "/v3/volumes/{held}/action", #"{"os-attach": {"host_name": "h", "mountpoint": "/m"}}"#, expect: 400))

        // Messages.
        probes.append(Probe(.get, "/v3/messages", expect: 404))
        probes.append(Probe(.get, "/v3/messages/\(randomID())", version: "3.3", expect: 404))
        probes.append(Probe(.delete, "/v3/messages/nope", version: "3.3", expect: 404))

        // Microversions and identity.
        for version in ["3.72", "4.0", "2.9"] {
            probes.append(Probe(.get, "/v3/volumes", version: version, expect: 406))
            probes.append(Probe(.post, "/v3/volumes", #"{"volume": {"size": 1}}"#, version: version, expect: 406))
        }
        for version in ["x", "3", "3.1.1", "v3.1", "3,1", "latest.0", "\(long)"] {
            probes.append(Probe(.get, "/v3/volumes", version: version, expect: 400))
            probes.append(Probe(.post, "/v3/volumes", #"{"volume": {"size": 1}}"#, version: version, expect: 400))
        }
        probes.append(Probe(.get, "/v3/p2/volumes", token: "u:p1", expect: 400))
        probes.append(Probe(.post, "/v3/p2/volumes", #"{"volume": {"size": 1}}"#, token: "u:p1", expect: 400))
        probes.append(Probe(.delete, "/v3/p2/volumes/{vol}", token: "u:p1", expect: 400))
        probes.append(Probe(.get, "/v3/nothing", expect: 404))
        probes.append(Probe(.get, "/v3/admin", expect: 404))
        probes.append(Probe(.post, "/v3/admin", #"{"volume": {"size": 1}}"#, expect: 404))

        return probes
    }

    /// Paths no route serves and methods a path does not take; these never reach a controller.
    static var routingProbes: [Probe] {
        [
            (HTTPRequest.Method.patch, "/v3/volumes"), (.delete, "/v3/volumes"), (.put, "/v3/volumes"),
            (.post, "/v3/volumes/detail"), (.post, "/v3/volumes/{vol}"), (.patch, "/v3/volumes/{vol}"),
            (.get, "/v3/volumes/{vol}/action"), (.delete, "/v3/volumes/{vol}/metadata"), (.post, "/v3/types/{type}"),
            (.put, "/v3/types"), (.delete, "/v3/os-services"), (.post, "/v3/os-availability-zone"),
            (.post, "/v3/limits"), (.get, "/v3/os-services/enable"), (.post, "/healthcheck"), (.delete, "/metrics"),
            (.get, "/v3/admin/nothing/here"), (.put, "/v3/snapshots"), (.get, "/v3/backups/detail"),
            (.get, "/v2/volumes"), (.get, "/v4/"), (.get, "/favicon.ico"), (.get, "/v3/volumes/{vol}/metadata/k/extra"),
            (.options, "/v3/volumes"), (.delete, "/v3/snapshots"), (.post, "/v3/snapshots/{snap}"),
            (.get, "/v3/snapshots/{snap}/action"), (.delete, "/v3/snapshots/{snap}/metadata"),
            (.post, "/v3/snapshots/detail"), (.post, "/v3/os-quota-sets/admin"), (.patch, "/v3/attachments"),
            (.delete, "/v3/attachments"), (.put, "/v3/attachments"), (.post, "/v3/attachments/detail"),
            (.post, "/v3/attachments/{att}"), (.get, "/v3/attachments/{att}/action"),
        ].map { Probe($0.0, $0.1) }
    }

    /// The state the sweep must leave alone.
    struct World {
        var volume: String
        var type: String
        var privateType: String
        var snapshot: String
        /// A volume reserved by `attachment` (attachments API, no connector).
        var held: String
        var attachment: String
    }

    /// A volume with metadata and a snapshot (with metadata), a public type in use and a private type.
    func makeWorld(_ api: API) async throws -> World {
        try await api.waitForServices()
        let volume = try await api.createAvailableVolume(name: "keep", extra: ["metadata": ["k": "v"]])
        let typeReply = try await api.post(
            "/v3/types", ["volume_type": ["name": "sweep", "extra_specs": ["volume_backend_name": "file-1"]]])
        let type = try #require(typeReply.json["volume_type"]["id"].string)
        let privateReply = try await api.post(
            "/v3/types", ["volume_type": ["name": "hidden", "os-volume-type-access:is_public": false]])
        let privateType = try #require(privateReply.json["volume_type"]["id"].string)
        _ = try await api.createAvailableVolume(name: "typed", extra: ["volume_type": "sweep"])
        let snapshot = try await api.createAvailableSnapshot(of: volume, name: "kept", extra: ["metadata": ["k": "v"]])
        let held = try await api.createAvailableVolume(name: "held")
        let attachment = try #require(try await api.createAttachment(held)["id"].string)
        return World(
            volume: volume, type: type, privateType: privateType, snapshot: snapshot, held: held, attachment: attachment)
    }

    /// What must not change: volumes, snapshots, types, extra specs, access lists, default types, quotas, services
    /// and messages.
    func snapshot(_ api: API, _ world: World) async throws -> [JSON] {
        [
            try await api.get("/v3/volumes/detail?all_tenants=1", version: "latest").json,
            try await api.get("/v3/volumes/\(world.volume)/metadata").json,
            try await api.get("/v3/snapshots/detail?all_tenants=1", version: "latest").json,
            try await api.get("/v3/snapshots/\(world.snapshot)/metadata").json,
            try await api.get("/v3/os-quota-sets/admin?usage=true").json,
            try await api.get("/v3/types?is_public=None").json,
            try await api.get("/v3/types/\(world.type)/extra_specs").json,
            try await api.get("/v3/types/\(world.privateType)/os-volume-type-access").json,
            try await api.get("/v3/default-types", version: "3.62").json,
            try await api.post("/v3/volumes/\(world.volume)/action", ["os-show_image_metadata": [:]]).json,
            JSON(
                .array(
                    try await api.get("/v3/os-services").json["services"].array.map {
                        .array([
                            $0["binary"].value ?? .null, $0["host"].value ?? .null, $0["status"].value ?? .null,
                            $0["disabled_reason"].value ?? .null,
                        ])
                    })),
            try await api.get("/v3/messages?all_tenants=1", version: "3.3").json,
            try await api.get("/v3/attachments/detail?all_tenants=1", version: "3.54").json,
            JSON(.array(api.system.target.current.keys.sorted().map(JSONValue.string))),
        ]
    }

    /// Sends every probe and checks each answer is a 4xx Cinder fault (with the exact status when known).
    func run(_ probes: [Probe], _ api: API, _ world: World) async throws {
        for probe in probes {
            func fill(_ text: String) -> String {
                text.replacingOccurrences(of: "{vol}", with: world.volume)
                    .replacingOccurrences(of: "{ptype}", with: world.privateType)
                    .replacingOccurrences(of: "{type}", with: world.type)
                    .replacingOccurrences(of: "{snap}", with: world.snapshot)
                    .replacingOccurrences(of: "{host}", with: TestSystem.backendHost)
                    .replacingOccurrences(of: "{held}", with: world.held)
                    .replacingOccurrences(of: "{att}", with: world.attachment)
            }
            let path = fill(probe.path)
            let body = probe.body.map(fill)
            var headers: HTTPFields = [:]
            if path.hasSuffix("/metadata"), probe.expected == 412 { headers[.ifMatch] = "stale-etag" }
            let reply = try await api.request(
                probe.method, path, raw: body, version: probe.version, token: probe.token, headers: headers)
            #expect((400..<500).contains(reply.status.code), "\(probe) → \(reply)")
            if let expected = probe.expected {
                #expect(reply.status.code == expected, "\(probe) → \(reply)")
            }
            let name = faultName(for: reply.status.code)
            let fault = reply.json[name]
            #expect(
                reply.json.keys == [name] && fault["code"].int == reply.status.code
                    && fault["message"].string?.isEmpty == false,
                "\(probe) → not a Cinder fault: \(reply)")
            #expect(isRequestID(reply.header("x-openstack-request-id")), "\(probe)")
        }
    }

    @Test("Every malformed request is a 4xx Cinder fault, and nothing changes")
    func sweep() async throws {
        try await withSystem { api in
            let world = try await makeWorld(api)
            let before = try await snapshot(api, world)
            let probes = Self.probes
            #expect(probes.count > 400)
            try await run(probes, api, world)
            let after = try await snapshot(api, world)
            #expect(after == before)
            #expect(try await api.volume(world.volume)?["status"].string == "available")
            #expect(try await api.snapshot(world.snapshot)?["status"].string == "available")
            #expect(try await api.volume(world.held)?["status"].string == "reserved")
            #expect(try await api.attachment(world.attachment)?["status"].string == "reserved")
        }
    }

    @Test("Unknown paths and wrong methods are 4xx Cinder faults, and nothing changes")
    func unknownRoutes() async throws {
        try await withSystem { api in
            let world = try await makeWorld(api)
            let before = try await snapshot(api, world)
            try await run(Self.routingProbes, api, world)
            #expect(try await snapshot(api, world) == before)
        }
    }
}

import AshlarCore
import Foundation
import HTTPTypes
import Testing

/// `GET /volumes`, `/volumes/detail`, `/volumes/{id}`, `/volumes/summary`.
@Suite("Volumes: show, list, filters, pagination, summary", .timeLimit(.minutes(2)))
struct VolumeListTests {
    /// Cinder's naive timestamps: microseconds, no zone.
    static func isTimestamp(_ text: String?) -> Bool {
        guard let text else { return false }
        return text.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}/) != nil
    }

    @Test(
        "Unknown and malformed ids are 404 itemNotFound",
        arguments: [
            randomID(), "not-a-uuid", "12345", String(repeating: "a", count: 2000), "%20",
            "00000000-0000-0000-0000-000000000000", "detail-x", "'%20OR%201=1", "%E2%9C%93",
        ])
    func showUnknown(_ id: String) async throws {
        try await withSystem { api in
            _ = try await api.createVolume()
            let reply = try await api.get("/v3/volumes/\(id)")
            expectFault(reply, .notFound)
        }
    }

    @Test("The summary list has id, name and links; the detail list has the full view")
    func summaryAndDetail() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume(size: 2, name: "shown")
            let summary = try await api.get("/v3/volumes")
            #expect(summary.status == .ok)
            let item = summary.json["volumes"][0]
            #expect(item.keys == ["id", "name", "links"])
            #expect(item["id"].string == id)
            #expect(item["name"].string == "shown")
            #expect(item["links"].array.count == 2)
            #expect(!summary.json["volumes_links"].exists)

            let detail = try await api.get("/v3/volumes/detail")
            #expect(detail.status == .ok)
            let v = detail.json["volumes"][0]
            #expect(v["id"].string == id)
            #expect(v["status"].string == "available")
            #expect(v["size"].int == 2)
            #expect(v["bootable"].string == "false")
            #expect(v["volume_type"].string == "__DEFAULT__")
            #expect(Self.isTimestamp(v["created_at"].string), "\(v["created_at"])")
            #expect(Self.isTimestamp(v["updated_at"].string), "\(v["updated_at"])")
            for key in [
                "id", "status", "size", "availability_zone", "created_at", "updated_at", "name", "description",
                "volume_type", "snapshot_id", "source_volid", "metadata", "links", "user_id", "bootable",
                "encrypted", "replication_status", "consistencygroup_id", "multiattach", "attachments",
                "os-vol-host-attr:host", "os-vol-tenant-attr:tenant_id", "os-vol-mig-status-attr:migstat",
                "os-vol-mig-status-attr:name_id", "migration_status",
            ] {
                #expect(v[key].exists, "detail lacks \(key)")
            }
            // Fields gated by microversion.
            #expect(!v["group_id"].exists)
            #expect(!v["volume_type_id"].exists)
            let latest = try await api.get("/v3/volumes/\(id)", version: "3.71").json["volume"]
            #expect(latest["group_id"].isNull)
            #expect(latest["volume_type_id"].string != nil)
            #expect(latest["consumes_quota"].bool == true)
            #expect(latest["shared_targets"].bool == false)

            let show = try #require(try await api.volume(id))
            #expect(show == v)
        }
    }

    /// Follows `volumes_links` from `start` and returns every id seen, in order.
    func walk(_ api: API, _ start: String) async throws -> (ids: [String], pages: Int) {
        var ids: [String] = []
        var path: String? = start
        var pages = 0
        while let next = path, pages < 20 {
            let reply = try await api.get(next)
            #expect(reply.status == .ok, "\(next): \(reply)")
            pages += 1
            ids += reply.json["volumes"].array.compactMap { $0["id"].string }
            let links = reply.json["volumes_links"].array
            if let href = links.first(where: { $0["rel"].string == "next" })?["href"].string {
                #expect(href.contains("marker="), "\(href)")
                #expect(href.hasPrefix("http://localhost/v3/"), "\(href)")
                path = String(href.dropFirst("http://localhost".count))
            } else {
                path = nil
            }
        }
        return (ids, pages)
    }

    @Test("limit and marker walk every volume exactly once, following the next links")
    func pagination() async throws {
        try await withSystem { api in
            var created: [String] = []
            for i in 0..<5 { created.append(try await api.createVolume(name: "v\(i)")) }
            let all = try await api.get("/v3/volumes").json["volumes"].array.compactMap { $0["id"].string }
            #expect(Set(all) == Set(created))
            #expect(all == created.reversed(), "default order is created_at desc")

            let (ids, pages) = try await walk(api, "/v3/volumes?limit=2")
            #expect(ids == all)
            #expect(pages == 3)
            let (detailIDs, _) = try await walk(api, "/v3/volumes/detail?limit=2&sort=name:asc")
            #expect(detailIDs == created)
            // A full last page still links on; the page after it is empty.
            let (exact, exactPages) = try await walk(api, "/v3/volumes?limit=5")
            #expect(exact == all)
            #expect(exactPages == 2)
            // The project path is kept in the links.
            let (viaProject, _) = try await walk(api, "/v3/admin/volumes?limit=1")
            #expect(viaProject == all)
        }
    }

    @Test("A marker that does not exist is 404")
    func badMarker() async throws {
        try await withSystem { api in
            _ = try await api.createVolume()
            expectFault(try await api.get("/v3/volumes?marker=\(randomID())"), .notFound)
            expectFault(try await api.get("/v3/volumes/detail?limit=1&marker=nope"), .notFound)
        }
    }

    @Test(
        "Bad limits and offsets are 400",
        arguments: ["limit=-1", "limit=x", "limit=1.5", "limit=", "offset=-1", "offset=x"])
    func badLimit(_ query: String) async throws {
        try await withSystem { api in
            expectFault(try await api.get("/v3/volumes?\(query)"), .badRequest)
            expectFault(try await api.get("/v3/volumes/detail?\(query)"), .badRequest)
        }
    }

    @Test("limit=0 gives an empty page; offset skips")
    func zeroLimitAndOffset() async throws {
        try await withSystem { api in
            for i in 0..<3 { _ = try await api.createVolume(name: "o\(i)") }
            let zero = try await api.get("/v3/volumes?limit=0")
            #expect(zero.status == .ok)
            #expect(zero.json["volumes"].array.isEmpty)
            let offset = try await api.get("/v3/volumes?sort=name:asc&offset=1")
            #expect(offset.json["volumes"].array.compactMap { $0["name"].string } == ["o1", "o2"])
        }
    }

    @Test("Sorting with sort= and with sort_key/sort_dir")
    func sorting() async throws {
        try await withSystem { api in
            _ = try await api.createVolume(size: 3, name: "b")
            _ = try await api.createVolume(size: 1, name: "c")
            _ = try await api.createVolume(size: 2, name: "a")
            func sizes(_ query: String) async throws -> [Int] {
                try await api.get("/v3/volumes/detail?\(query)").json["volumes"].array.compactMap { $0["size"].int }
            }
            func names(_ query: String) async throws -> [String] {
                try await api.get("/v3/volumes?\(query)").json["volumes"].array.compactMap { $0["name"].string }
            }
            #expect(try await sizes("sort=size:asc") == [1, 2, 3])
            #expect(try await sizes("sort=size:desc") == [3, 2, 1])
            #expect(try await sizes("sort=size") == [3, 2, 1])
            #expect(try await names("sort_key=name&sort_dir=asc") == ["a", "b", "c"])
            #expect(try await names("sort_key=name&sort_dir=desc") == ["c", "b", "a"])
            #expect(try await names("sort=size:asc,name:asc") == ["c", "a", "b"])
        }
    }

    @Test(
        "Invalid sorts are 400",
        arguments: [
            "sort_dir=sideways", "sort_key=name&sort_dir=up", "sort=size:up", "sort=size&sort_key=name",
            "sort=name&sort_dir=asc", "sort=bogus", "sort_key=bogus", "sort=:asc",
        ])
    func invalidSort(_ query: String) async throws {
        try await withSystem { api in
            _ = try await api.createVolume()
            expectFault(try await api.get("/v3/volumes?\(query)"), .badRequest)
        }
    }

    @Test("Filters: name, status, size, metadata")
    func filters() async throws {
        try await withSystem { api in
            let a = try await api.createAvailableVolume(size: 1, name: "alpha", extra: ["metadata": ["k": "v"]])
            let b = try await api.createAvailableVolume(size: 2, name: "beta", extra: ["metadata": ["k": "w"]])
            let c = try await api.createVolume(size: 2, name: "gamma")
            let r = try await api.post("/v3/volumes/\(c)/action", ["os-reset_status": ["status": "error"]])
            #expect(r.status == .accepted)

            #expect(try await api.volumeIDs(query: "?name=alpha") == [a])
            #expect(try await api.volumeIDs(query: "?display_name=beta") == [b])
            #expect(try await api.volumeIDs(query: "?name=alp") == [])
            #expect(try await api.volumeIDs(query: "?status=available") == [a, b])
            #expect(try await api.volumeIDs(query: "?status=error") == [c])
            #expect(try await api.volumeIDs(query: "?size=2") == [b, c])
            #expect(try await api.volumeIDs(query: "?size=2&status=available") == [b])
            #expect(try await api.volumeIDs(query: "?metadata=%7B%27k%27:%27v%27%7D") == [a])
            #expect(try await api.volumeIDs(query: "?metadata=%7B%22k%22:%20%22w%22%7D") == [b])
            #expect(try await api.volumeIDs(query: "?metadata=%7B%27k%27:%27x%27%7D") == [])
            // As the openstack CLI sends it: form-encoded, the space as '+'.
            #expect(try await api.volumeIDs(query: "?metadata=%7B%27k%27%3A+%27v%27%7D") == [a])
            expectFault(try await api.get("/v3/volumes?metadata=k=v"), .badRequest, "metadata")
            expectFault(try await api.get("/v3/volumes?size=big"), .badRequest, "size")
            let detail = try await api.get("/v3/volumes/detail?name=beta")
            #expect(detail.json["volumes"].array.compactMap { $0["id"].string } == [b])
        }
    }

    @Test("name~ does LIKE matching from 3.34 only")
    func likeFilter() async throws {
        try await withSystem { api in
            let a = try await api.createVolume(name: "web-1")
            let b = try await api.createVolume(name: "web-2")
            let c = try await api.createVolume(name: "db-1")
            func ids(_ version: String) async throws -> Set<String> {
                let reply = try await api.get("/v3/volumes?name~=web", version: version)
                #expect(reply.status == .ok)
                return Set(reply.json["volumes"].array.compactMap { $0["id"].string })
            }
            #expect(try await ids("3.34") == [a, b])
            #expect(try await ids("latest") == [a, b])
            let before = try await ids("3.33")
            #expect(before != [a, b], "3.33 must not apply the LIKE filter")
            #expect(!before.contains(c) || before == [a, b, c])
        }
    }

    @Test("with_count adds count from 3.45 only")
    func withCount() async throws {
        try await withSystem { api in
            for _ in 0..<3 { _ = try await api.createVolume() }
            let counted = try await api.get("/v3/volumes?with_count=true&limit=1", version: "3.45")
            #expect(counted.json["count"].int == 3)
            #expect(counted.json["volumes"].array.count == 1)
            let detail = try await api.get("/v3/volumes/detail?with_count=true", version: "3.71")
            #expect(detail.json["count"].int == 3)
            let old = try await api.get("/v3/volumes?with_count=true", version: "3.44")
            #expect(old.status == .ok)
            #expect(!old.json["count"].exists)
            #expect(old.json["volumes"].array.count == 3)
            let off = try await api.get("/v3/volumes?with_count=false", version: "3.45")
            #expect(!off.json["count"].exists)
            expectFault(try await api.get("/v3/volumes?with_count=maybe", version: "3.45"), .badRequest)
        }
    }

    @Test("An unknown filter key gives an admin an empty list")
    func unknownFilterAsAdmin() async throws {
        try await withSystem { api in
            _ = try await api.createVolume()
            let reply = try await api.get("/v3/volumes?bogus=1")
            #expect(reply.status == .ok)
            #expect(reply.json["volumes"].array.isEmpty)
            let detail = try await api.get("/v3/volumes/detail?no_such_field=x", version: "3.31")
            #expect(detail.status == .ok)
            #expect(detail.json["volumes"].array.isEmpty)
        }
    }

    @Test("all_tenants=1 sees every project's volumes")
    func allTenants() async throws {
        try await withSystem { api in
            let mine = try await api.createVolume(token: "u:p1")
            let theirs = try await api.createVolume(token: "u:p2")
            #expect(try await api.volumeIDs(token: "u:p1") == [mine])
            #expect(try await api.volumeIDs(token: "u:p1", query: "?all_tenants=1") == [mine, theirs])
            #expect(try await api.volumeIDs(token: "u:p1", query: "?all_tenants=0") == [mine])
            #expect(try await api.volumeIDs(token: "u:p1", query: "?project_id=p2") == [theirs])
        }
    }

    @Test("/volumes/summary: 404 below 3.12, totals at 3.12, metadata at 3.36")
    func summary() async throws {
        try await withSystem { api in
            _ = try await api.createVolume(size: 1, extra: ["metadata": ["k": "v1"]])
            _ = try await api.createVolume(size: 3, extra: ["metadata": ["k": "v2", "x": "y"]])
            _ = try await api.createVolume(size: 5, token: "u:other")

            expectFault(try await api.get("/v3/volumes/summary", version: "3.11"), .notFound)
            expectFault(try await api.get("/v3/volumes/summary"), .notFound)

            let at312 = try await api.get("/v3/volumes/summary", version: "3.12")
            #expect(at312.status == .ok)
            let s = at312.json["volume-summary"]
            #expect(s["total_count"].int == 2)
            #expect(s["total_size"].int == 4)
            #expect(!s["metadata"].exists)

            let at336 = try await api.get("/v3/volumes/summary", version: "3.36").json["volume-summary"]
            #expect(at336["total_count"].int == 2)
            #expect(at336["metadata"]["k"].array.compactMap(\.string).sorted() == ["v1", "v2"])
            #expect(at336["metadata"]["x"].array.compactMap(\.string) == ["y"])

            let all = try await api.get("/v3/volumes/summary?all_tenants=1", version: "3.12").json["volume-summary"]
            #expect(all["total_count"].int == 3)
            #expect(all["total_size"].int == 9)
        }
    }

    @Test(
        "Pagination stays exact with equal sort values and null names",
        arguments: [
            "sort=size:asc", "sort=size:desc", "sort=name:asc", "sort=name:desc", "sort=size:asc,name:desc",
            "sort_key=status&sort_dir=asc", "sort=created_at:asc", "sort=id:asc",
        ])
    func paginationWithTies(_ sort: String) async throws {
        try await withSystem { api in
            for i in 0..<7 {
                _ = try await api.createVolume(size: i % 2 + 1, name: i % 3 == 0 ? nil : "n\(i % 2)")
            }
            let full = try await api.get("/v3/volumes?\(sort)").json["volumes"].array.compactMap { $0["id"].string }
            #expect(full.count == 7)
            for limit in [1, 2, 3] {
                let (ids, _) = try await walk(api, "/v3/volumes?\(sort)&limit=\(limit)")
                #expect(ids == full, "limit \(limit)")
            }
        }
    }

    @Test("osapi_max_limit caps pages and a full page without limit links on")
    func maxLimit() async throws {
        try await withSystem(configure: { $0.osapiMaxLimit = 2 }) { api in
            for i in 0..<3 { _ = try await api.createVolume(name: "m\(i)") }
            let first = try await api.get("/v3/volumes")
            #expect(first.json["volumes"].array.count == 2)
            let next = first.json["volumes_links"][0]["href"].string
            #expect(next?.contains("marker=") == true)
            let capped = try await api.get("/v3/volumes?limit=50")
            #expect(capped.json["volumes"].array.count == 2)
            let (ids, pages) = try await walk(api, "/v3/volumes")
            #expect(Set(ids).count == 3)
            #expect(ids.count == 3)
            #expect(pages == 2)
        }
    }

    @Test("with_count counts what the filters match, not the page")
    func withCountFiltered() async throws {
        try await withSystem { api in
            for i in 0..<4 { _ = try await api.createVolume(size: i < 3 ? 1 : 2) }
            let reply = try await api.get("/v3/volumes?with_count=true&size=1&limit=2", version: "3.45")
            #expect(reply.json["count"].int == 3)
            #expect(reply.json["volumes"].array.count == 2)
            let none = try await api.get("/v3/volumes?with_count=true&bogus=1", version: "3.45")
            #expect(none.json["count"].int == 0)
        }
    }
}

import AshlarCore

/// The version document of `GET /` and `GET /v3/`.
enum VersionsView {
    static func document(base: String) -> JSONValue {
        [
            "versions": [
                [
                    "id": "v3.0",
                    "status": "CURRENT",
                    "version": .string(APIVersion.maximum.description),
                    "min_version": .string(APIVersion.minimum.description),
                    "updated": "2023-08-31T00:00:00Z",
                    "links": [
                        ["rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"],
                        ["rel": "self", "href": .string(base + "/v3/")],
                    ],
                    "media-types": [
                        ["base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"]
                    ],
                ]
            ]
        ]
    }
}

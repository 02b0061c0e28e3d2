#!/usr/bin/env python3
"""Image benchmarks against two running `ashlar serve` (the image cache off and on), loopback only.

  bench/images.py URL_NOCACHE URL_CACHE WORKDIR [--size-mib N]

Makes a raw image of N MiB (half written with data, half holes, as an installed disk image is) and its qcow2,
puts both in the built-in image store, then measures, each bounded in time:
  - create from image, raw and qcow2, cache off: time from the volume's created_at to its updated_at when it
    became available, as MB/s of the image's virtual size; against `qemu-img convert` alone on the same file
    into a fresh sparse file, timed in the same run (the ratio is the figure to compare between runs);
  - create from image with the cache on: the first (which fills the cache) and the next three (clones of it);
  - upload to image (os-volume_upload_image), raw and qcow2: POST to image active, as MB/s of the volume size.
Prints a Markdown table. Standard library only.
"""
import argparse, datetime, json, os, subprocess, sys, time, urllib.request

HEADERS = {"X-Auth-Token": "admin:admin", "OpenStack-API-Version": "volume 3.71"}


def call(method, url, body=None, data=None, content_type="application/json"):
    if body is not None:
        data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=dict(HEADERS, **{"Content-Type": content_type}))
    with urllib.request.urlopen(req, timeout=600) as resp:
        raw = resp.read()
        return json.loads(raw) if raw and resp.headers.get("Content-Type", "").startswith("application/json") else None


def parse(ts):
    return datetime.datetime.fromisoformat(ts.rstrip("Z"))


def wait(fetch, done, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fetch()
        if done(value):
            return value
        time.sleep(0.05)
    sys.exit(f"images.py: timed out waiting ({value})")


def register(url, name, fmt, path):
    root = url[: -len("/v3")]
    image = call("POST", f"{root}/image/v2/images", {"name": name, "disk_format": fmt, "container_format": "bare"})
    with open(path, "rb") as f:
        call("PUT", f"{root}/image/v2/images/{image['id']}/file", data=f.read(), content_type="application/octet-stream")
    return image["id"]


def create_from(url, image, size_gib):
    volume = call("POST", f"{url}/admin/volumes", {"volume": {"size": size_gib, "imageRef": image}})["volume"]
    shown = wait(lambda: call("GET", f"{url}/admin/volumes/{volume['id']}")["volume"],
                 lambda v: v["status"] in ("available", "error"))
    if shown["status"] != "available":
        sys.exit(f"images.py: volume from {image} ended {shown['status']}")
    return volume["id"], (parse(shown["updated_at"]) - parse(shown["created_at"])).total_seconds()


def upload(url, volume, fmt):
    root = url[: -len("/v3")]
    started = time.monotonic()
    reply = call("POST", f"{url}/admin/volumes/{volume}/action",
                 {"os-volume_upload_image": {"image_name": f"bench-{fmt}", "disk_format": fmt}})
    image = reply["os-volume_upload_image"]["image_id"]
    wait(lambda: call("GET", f"{root}/image/v2/images/{image}"), lambda i: i["status"] in ("active", "killed") or False)
    elapsed = time.monotonic() - started
    wait(lambda: call("GET", f"{url}/admin/volumes/{volume}")["volume"], lambda v: v["status"] == "available")
    return elapsed


def qemu_convert(source, fmt, work, size):
    target = os.path.join(work, "qemu-target.raw")
    with open(target, "wb") as f:
        f.truncate(size)
    started = time.monotonic()
    subprocess.run(["qemu-img", "convert", "-q", "-n", "-f", fmt, "-O", "raw", source, target], check=True)
    elapsed = time.monotonic() - started
    os.unlink(target)
    return elapsed


def main():
    p = argparse.ArgumentParser()
    p.add_argument("nocache")
    p.add_argument("cache")
    p.add_argument("work")
    p.add_argument("--size-mib", type=int, default=768)
    a = p.parse_args()
    size = a.size_mib << 20
    raw = os.path.join(a.work, "bench.raw")
    block = os.urandom(1 << 20)
    with open(raw, "wb") as f:
        for mib in range(a.size_mib):
            if mib % 2 == 0:
                f.seek(mib << 20)
                f.write(block)
        f.truncate(size)
    qcow2 = os.path.join(a.work, "bench.qcow2")
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, qcow2], check=True)
    size_gib = (size + (1 << 30) - 1) >> 30
    mb = size / 1e6
    rows = []
    for fmt, path in (("raw", raw), ("qcow2", qcow2)):
        image = register(a.nocache, f"bench-{fmt}", fmt, path)
        _, ashlar = create_from(a.nocache, image, size_gib)
        alone = qemu_convert(path, fmt, a.work, size)
        rows.append((f"create from a {a.size_mib} MiB {fmt} image, cache off",
                     f"{mb / ashlar:,.0f} MB/s ({ashlar:.2f} s); qemu-img convert alone {mb / alone:,.0f} MB/s "
                     f"({alone:.2f} s); ratio {alone / ashlar:.2f}"))
    cached_image = register(a.cache, "bench-cached", "qcow2", qcow2)
    _, first = create_from(a.cache, cached_image, size_gib)
    clones = sorted(create_from(a.cache, cached_image, size_gib)[1] for _ in range(3))
    rows.append(("create from a qcow2 image, cache on: first (fills the cache), then three from the cache",
                 f"first {first * 1000:,.0f} ms; cached {', '.join(f'{c * 1000:,.0f}' for c in clones)} ms"))
    volume, _ = create_from(a.nocache, register(a.nocache, "bench-up", "raw", raw), size_gib)
    for fmt in ("raw", "qcow2"):
        elapsed = upload(a.nocache, volume, fmt)
        rows.append((f"upload a {size_gib} GiB volume as {fmt} (POST to image active)",
                     f"{(size_gib << 30) / 1e6 / elapsed:,.0f} MB/s ({elapsed:.2f} s)"))
    print("| measure | figure |")
    print("|---|---|")
    for name, figure in rows:
        print(f"| {name} | {figure} |")


if __name__ == "__main__":
    main()

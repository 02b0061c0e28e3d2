#!/usr/bin/env python3
"""Creates volumes against a running Ashlar and reports create->available latency.

--rate R --seconds S: POSTs R creates per second for S seconds (paced, bounded), waits for all to settle, and
prints JSON with p50/p99 of create->available, taken from each volume's own timestamps (created_at, and
updated_at of the transition to available) so that polling does not distort the figure, plus the POST
response times seen by the client.
--populate N: creates N volumes and prints their ids once all are available.
--burst N: sends N creates at once (N threads) and prints the time from the first POST until all are available.
Standard library only; talks to loopback only.
"""
import argparse, concurrent.futures, datetime, json, sys, threading, time, urllib.request

HEADERS = {"X-Auth-Token": "admin:admin", "Content-Type": "application/json",
           "OpenStack-API-Version": "volume 3.71"}


PROJECT = "admin"


def call(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    headers = dict(HEADERS, **{"X-Auth-Token": f"admin:{PROJECT}"})
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
        return resp.status, (json.loads(raw) if raw else None)


def parse(ts):
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%f")


def create(base, name):
    start = time.monotonic()
    status, body = call("POST", f"{base}/{PROJECT}/volumes", {"volume": {"size": 1, "name": name}})
    return body["volume"]["id"], (time.monotonic() - start) * 1000


def settle(base, ids, timeout=60):
    deadline = time.monotonic() + timeout
    wanted = set(ids)
    while time.monotonic() < deadline:
        _, body = call("GET", f"{base}/{PROJECT}/volumes/detail?limit=1000")
        vols = {v["id"]: v for v in body["volumes"] if v["id"] in wanted}
        if len(vols) == len(wanted) and all(v["status"] in ("available", "error") for v in vols.values()):
            return vols
        time.sleep(0.2)
    raise SystemExit("volumes did not settle in time")


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("--rate", type=float, default=50)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--populate", type=int)
    ap.add_argument("--project", default="admin")
    ap.add_argument("--burst", type=int)
    args = ap.parse_args()
    global PROJECT
    PROJECT = args.project
    if args.populate:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            ids = [f.result()[0] for f in [pool.submit(create, args.base, f"pop-{i}") for i in range(args.populate)]]
        settle(args.base, ids)
        print(json.dumps({"ids": ids}))
        return
    if args.burst:
        barrier = threading.Barrier(args.burst)

        def one(i):
            barrier.wait(30)
            return create(args.base, f"burst-{i}")

        with concurrent.futures.ThreadPoolExecutor(args.burst) as pool:
            futures = [pool.submit(one, i) for i in range(args.burst)]
            start = time.monotonic()
            ids = [f.result()[0] for f in futures]
        deadline = time.monotonic() + 60
        wanted = set(ids)
        while time.monotonic() < deadline:
            _, body = call("GET", f"{args.base}/{PROJECT}/volumes/detail?limit=1000")
            done = [v for v in body["volumes"] if v["id"] in wanted and v["status"] in ("available", "error")]
            if len(done) == len(wanted):
                break
            time.sleep(0.02)
        elapsed = time.monotonic() - start
        print(json.dumps({"burst": args.burst, "seconds": elapsed,
                          "errors": sum(1 for v in done if v["status"] != "available"), "settled": len(done)}))
        return
    total = int(args.rate * args.seconds)
    futures = []
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(64) as pool:
        for i in range(total):
            target = start + i / args.rate
            delay = target - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(create, args.base, f"lat-{i}"))
        results = [f.result() for f in futures]
    ids = [r[0] for r in results]
    vols = settle(args.base, ids)
    latencies = [(parse(v["updated_at"]) - parse(v["created_at"])).total_seconds() * 1000
                 for v in vols.values() if v["status"] == "available"]
    posts = [r[1] for r in results]
    print(json.dumps({
        "rate": args.rate, "seconds": args.seconds, "count": len(ids),
        "errors": sum(1 for v in vols.values() if v["status"] != "available"),
        "p50_ms": pct(latencies, 50), "p99_ms": pct(latencies, 99), "max_ms": max(latencies),
        "post_p50_ms": pct(posts, 50), "post_p99_ms": pct(posts, 99),
    }))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""RPC over one RabbitMQ with oslo.messaging's Python client, measured as bench/RPCBench measures Ashlar's: a
server on topic `bench` answers `echo`; one client calls it one call after another (p50/p99 of the round trip)
and casts as fast as it can (casts/s, counted when the server has handled them all). Prints one line of JSON.

    rpc_oslo.py rabbit://guest:guest@127.0.0.1:PORT/ [calls] [casts]
"""
import json
import sys
import threading
import time

import oslo_messaging as messaging
from oslo_config import cfg


def main():
    url = sys.argv[1]
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    casts = int(sys.argv[3]) if len(sys.argv) > 3 else 5000
    conf = cfg.CONF
    conf([], project="rpcbench")
    transport = messaging.get_rpc_transport(conf, url=url)
    handled = {"n": 0}
    lock = threading.Lock()
    done = threading.Event()

    class Endpoint(object):
        target = messaging.Target(version="3.0")

        def echo(self, ctxt, n):
            return {"n": n}

        def note(self, ctxt, n):
            with lock:
                handled["n"] += 1
                if handled["n"] >= casts:
                    done.set()

    server = messaging.get_rpc_server(
        transport, messaging.Target(topic="bench", server="s1"), [Endpoint()], executor="threading")
    server.start()
    client = messaging.get_rpc_client(transport, messaging.Target(topic="bench", version="3.0"), timeout=10)
    for _ in range(100):
        client.call({}, "echo", n=1)
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        client.call({}, "echo", n=1)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    start = time.perf_counter()
    for _ in range(casts):
        client.cast({}, "note", n=1)
    done.wait(60)
    elapsed = time.perf_counter() - start

    def percentile(p):
        return samples[min(len(samples) - 1, int(len(samples) * p))]

    print(json.dumps({
        "client": "oslo.messaging", "calls": calls, "call_p50_ms": percentile(0.5), "call_p99_ms": percentile(0.99),
        "casts": casts, "casts_handled": handled["n"], "casts_per_s": handled["n"] / elapsed,
    }, sort_keys=True), flush=True)
    server.stop()
    server.wait()
    transport.cleanup()


if __name__ == "__main__":
    main()

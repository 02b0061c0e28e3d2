#!/usr/bin/env python3
"""Attach over iSCSI: attach/detach latency, and sequential throughput over iSCSI against the backing file.

Starts a tgtd of its own (a random control port, a free portal port, 127.0.0.1 only) and `ashlar serve` with a
file backend exporting through it (state in a temporary folder), creates a 2 GiB volume, and measures:

- attach latency: --rounds times, POST /v3/attachments with a connector (the backend exports the volume and
  answers the connection info) then `os-complete`; detach latency: DELETE /v3/attachments/{id} (the export goes
  with it). p50/p95/max in ms.
- throughput: 1 GiB of random data is written into the volume file first (while it is not attached); then, with
  the volume attached, 1 GiB sequential read with `qemu-img bench` (4 MiB requests, 8 in flight) of the iscsi://
  URL and of the volume file, cold (page cache dropped before each run) and warm; and 1 GiB sequential write with
  `qemu-img convert -n -t writeback` from a local 1 GiB file of other random data to the URL and to the volume
  file. Both writes end with a flush when qemu-img closes the image: an fdatasync of the file directly, a SCSI
  SYNCHRONIZE CACHE over iSCSI, which tgtd turns into an fdatasync of the same file. The same tool, request size
  and depth on both sides, so only the transport differs. Each figure is the median of --runs runs, the two
  sides alternating.

Must run as root with tgt, qemu-utils and qemu-block-extra installed. Standard library only. Every process it
starts is stopped by PID at the end, also on error; every wait is bounded.

    sudo bench/attach_bench.py                   # release binary if built, else debug
    sudo bench/attach_bench.py --rounds 50 --runs 5
    sudo bench/attach_bench.py --binary .build/debug/ashlar
"""
import argparse, glob, hashlib, json, os, random, shutil, signal, socket, statistics, subprocess, sys, tempfile
import time, urllib.error, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADERS = {"X-Auth-Token": "admin:admin", "OpenStack-API-Version": "volume 3.71",
           "Content-Type": "application/json"}
CONNECTOR = {"initiator": "iqn.1994-05.com.bench:h1", "ip": "127.0.0.1", "host": "h1", "platform": "x86_64",
             "os_type": "linux", "multipath": False}
GiB, MiB = 1 << 30, 1 << 20
CHUNK = 4 * MiB


class BenchError(Exception):
    pass


def log(message):
    print(message, file=sys.stderr, flush=True)


# MARK: Preconditions

def missing_requirements():
    problems = []
    if os.geteuid() != 0:
        problems.append("must run as root (tgtd, and dropping the page cache)")
    for tool, package in (("tgtd", "tgt"), ("tgtadm", "tgt"), ("qemu-img", "qemu-utils")):
        if shutil.which(tool) is None:
            problems.append(f"{tool} not found (package {package})")
    if not glob.glob("/usr/lib/*/qemu/block-iscsi.so") + glob.glob("/usr/lib/qemu/block-iscsi.so"):
        problems.append("QEMU's iscsi block driver (block-iscsi.so) not found (package qemu-block-extra)")
    return problems


def find_binary(given):
    if given:
        path = os.path.abspath(given)
        if not os.access(path, os.X_OK):
            raise BenchError(f"{path} is not an executable")
        parts = path.split(os.sep)
        return path, "release" if "release" in parts else "debug" if "debug" in parts else "given"
    for kind in ("release", "debug"):
        path = os.path.join(ROOT, ".build", kind, "ashlar")
        if os.access(path, os.X_OK):
            return path, kind
    raise BenchError("no ashlar binary: run `swift build -c release --product ashlar` first")


# MARK: Processes

def run(args, timeout=60, check=True, env=None):
    result = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout,
                            env=env)
    if check and result.returncode != 0:
        raise BenchError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def free_tcp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tgtadm(control, *args, check=True, timeout=30):
    return run(["tgtadm", "-C", str(control), *args], timeout=timeout, check=check)


class Tgtd:
    """A tgtd of our own on a control port nobody answers on and a free portal port."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.process = None
        self.control = None

    def start(self):
        for _ in range(50):
            port = random.randint(7000, 9999)
            if tgtadm(port, "--op", "show", "--mode", "system", check=False, timeout=10).returncode != 0 \
                    and not os.path.exists(f"/var/run/tgtd/socket.{port}"):
                self.control = port
                break
        if self.control is None:
            raise BenchError("no free tgtd control port found in 50 tries")
        self.portal = free_tcp_port()
        self.log = open(os.path.join(self.workdir, "tgtd.log"), "w")
        self.process = subprocess.Popen(
            ["tgtd", "-f", "-C", str(self.control), "--iscsi", f"portal=127.0.0.1:{self.portal}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"tgtd exited with {self.process.returncode} (see {self.log.name})")
            if tgtadm(self.control, "--op", "show", "--mode", "system", check=False, timeout=5).returncode == 0:
                return
            time.sleep(0.1)
        raise BenchError("tgtd did not answer within 15 s")

    def targets(self):
        out = tgtadm(self.control, "--lld", "iscsi", "--op", "show", "--mode", "target").stdout
        tids = []
        for line in out.splitlines():
            if line.startswith("Target ") and ":" in line:
                tids.append(int(line.split(":", 1)[0].split()[1]))
        return tids

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                for tid in self.targets():
                    tgtadm(self.control, "--lld", "iscsi", "--op", "delete", "--mode", "target", "--tid", str(tid),
                           "--force", check=False, timeout=10)
                tgtadm(self.control, "--op", "delete", "--mode", "system", check=False, timeout=10)
            except (BenchError, subprocess.TimeoutExpired) as error:
                log(f"tgtd: orderly stop failed ({error}); killing it")
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        for path in (f"/var/run/tgtd/socket.{self.control}", f"/var/run/tgtd/socket.{self.control}.lock"):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        self.log.close()
        self.process = None


class Ashlar:
    """`ashlar serve` on an ephemeral loopback port with its own state folder."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.process = None

    def start(self, binary, tgtd, target_params=None):
        workdir = self.workdir
        self.state = os.path.join(workdir, "state")
        config = os.path.join(workdir, "ashlar.conf")
        with open(config, "w") as f:
            f.write("[DEFAULT]\nenabled_backends = file-1\n\n[file-1]\nvolume_driver = file\n"
                    "target_helper = tgtadm\ntarget_ip_address = 127.0.0.1\n"
                    f"target_port = {tgtd.portal}\ntgt_control_port = {tgtd.control}\n")
            if target_params is not None:
                f.write(f"iscsi_target_params = {target_params}\n")
        self.out_path = os.path.join(workdir, "serve.out")
        self.err_path = os.path.join(workdir, "serve.err")
        self.out, self.err = open(self.out_path, "w"), open(self.err_path, "w")
        self.process = subprocess.Popen(
            [binary, "serve", "--config-file", config, "--state-path", self.state, "--bind", "127.0.0.1",
             "--port", "0"], stdout=self.out, stderr=self.err)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with open(self.out_path) as f:
                for line in f:
                    if line.startswith("Ashlar is ready at "):
                        self.url = line.strip()[len("Ashlar is ready at "):]
                        return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise BenchError(f"ashlar serve did not become ready:\n{self.tail()}")

    def tail(self, lines=20):
        with open(self.err_path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.out.close()
        self.err.close()
        self.process = None


# MARK: API

def call(method, url, body=None, expect=(200, 202, 204)):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=HEADERS)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        raise BenchError(f"{method} {url}: {error.code} {error.read().decode(errors='replace')[:500]}")
    if status not in expect:
        raise BenchError(f"{method} {url}: unexpected {status}")
    return json.loads(raw) if raw else None


def wait_status(base, volume_id, wanted, timeout=60):
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = call("GET", f"{base}/volumes/{volume_id}")["volume"]["status"]
        if status == wanted:
            return
        if "error" in status:
            break
        time.sleep(0.02)
    raise BenchError(f"volume {volume_id} is {status}, not {wanted}")


def attach(base, volume_id):
    """Returns (attachment id, connection info, ms to create, ms to complete)."""
    t0 = time.perf_counter()
    attachment = call("POST", f"{base}/attachments", {"attachment": {
        "volume_uuid": volume_id, "connector": CONNECTOR, "mode": "rw"}})["attachment"]
    t1 = time.perf_counter()
    call("POST", f"{base}/attachments/{attachment['id']}/action", {"os-complete": None}, expect=(204,))
    t2 = time.perf_counter()
    info = attachment.get("connection_info") or {}
    if not info.get("target_iqn"):
        raise BenchError(f"attachment without connection info: {attachment}")
    return attachment["id"], info, (t1 - t0) * 1000, (t2 - t1) * 1000


def detach(base, attachment_id):
    t0 = time.perf_counter()
    call("DELETE", f"{base}/attachments/{attachment_id}")
    return (time.perf_counter() - t0) * 1000


def iscsi_target(info):
    """(URL, environment for qemu-img): the credentials go in the URL unless libiscsi would split them wrongly."""
    user, password = info.get("auth_username"), info.get("auth_password")
    env = dict(os.environ)
    userinfo = ""
    if user and password:
        if any(c in user for c in "@?/#%:") or any(c in password for c in "@?/#") \
                or any(c.isspace() for c in user + password):
            env["LIBISCSI_CHAP_USERNAME"], env["LIBISCSI_CHAP_PASSWORD"] = user, password
        else:
            userinfo = f"{user}%{password}@"
    return f"iscsi://{userinfo}{info['target_portal']}/{info['target_iqn']}/{info.get('target_lun', 1)}", env


# MARK: Measurements

def pct(values, p):
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if p != 50 else statistics.median(values)


def write_random(path, size, truncate):
    with open(path, "r+b" if os.path.exists(path) and not truncate else "wb") as f:
        written = 0
        while written < size:
            written += f.write(os.urandom(min(CHUNK, size - written)))
        f.flush()
        os.fsync(f.fileno())


def sha256_prefix(path, size):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        left = size
        while left > 0:
            chunk = f.read(min(CHUNK, left))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def drop_caches():
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def dirty_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Dirty:"):
                return int(line.split()[1])
    return -1


def timed(args, env=None, timeout=600):
    t0 = time.perf_counter()
    run(args, timeout=timeout, env=env)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", help="the ashlar executable (default: .build/release/ashlar, else .build/debug)")
    ap.add_argument("--rounds", type=int, default=30, help="attach/detach rounds (default 30)")
    ap.add_argument("--runs", type=int, default=3, help="runs per throughput figure, median taken (default 3)")
    ap.add_argument("--data-mib", type=int, default=1024, help="MiB read and written per run (default 1024)")
    ap.add_argument("--target-params", metavar="LIST",
                    help="iscsi_target_params for the backend (default: Ashlar's; '' for tgtd's own)")
    args = ap.parse_args()
    if not 2 <= args.rounds <= 10000 or not 1 <= args.runs <= 50 or not 4 <= args.data_mib <= 2048 \
            or args.data_mib % 4:
        ap.error("rounds 2-10000, runs 1-50, data-mib a multiple of 4 in 4-2048")
    problems = missing_requirements()
    if problems:
        sys.exit("attach_bench: cannot run:\n  " + "\n  ".join(problems))
    try:
        binary, kind = find_binary(args.binary)
    except BenchError as error:
        sys.exit(f"attach_bench: {error}")
    log(f"ashlar binary: {binary} ({kind})")
    data = args.data_mib * MiB
    count = data // CHUNK

    workdir = tempfile.mkdtemp(prefix="ashlar-attach-bench.")
    tgtd = ashlar = None
    attachment_id = None
    try:
        tgtd = Tgtd(workdir)
        tgtd.start()
        log(f"tgtd: pid {tgtd.process.pid}, control port {tgtd.control}, portal 127.0.0.1:{tgtd.portal}")
        ashlar = Ashlar(workdir)
        ashlar.start(binary, tgtd, args.target_params)
        base = ashlar.url
        log(f"ashlar: pid {ashlar.process.pid}, {base}")

        volume_id = call("POST", f"{base}/volumes", {"volume": {"size": 2, "name": "attach-bench"}})["volume"]["id"]
        wait_status(base, volume_id, "available")
        volume_file = os.path.join(ashlar.state, "volumes", f"volume-{volume_id}")
        if not os.path.isfile(volume_file):
            raise BenchError(f"no volume file at {volume_file}")

        # Attach / detach latency.
        create_ms, complete_ms, attach_ms, detach_ms = [], [], [], []
        for i in range(args.rounds):
            aid, _, c_ms, k_ms = attach(base, volume_id)
            attachment_id = aid
            if i == 0 and len(tgtd.targets()) != 1:
                raise BenchError("attached, but tgtd does not show one target")
            wait_status(base, volume_id, "in-use", timeout=10)
            d_ms = detach(base, aid)
            attachment_id = None
            wait_status(base, volume_id, "available", timeout=30)
            create_ms.append(c_ms), complete_ms.append(k_ms), attach_ms.append(c_ms + k_ms), detach_ms.append(d_ms)
        if tgtd.targets():
            raise BenchError(f"targets left in tgtd after the last detach: {tgtd.targets()}")
        log(f"latency: {args.rounds} rounds done")

        # Throughput: the volume holds random data (written while not attached); a source file of other data.
        write_random(volume_file, data, truncate=False)
        source = os.path.join(workdir, "source.raw")
        write_random(source, data, truncate=True)
        attachment_id, info, _, _ = attach(base, volume_id)
        url, env = iscsi_target(info)
        shown_url = url.replace(f"{info.get('auth_password')}@", "***@") if info.get("auth_password") else url
        log(f"attached: {shown_url}")
        login_s = statistics.median(timed(["qemu-img", "info", "-f", "raw", url], env=env, timeout=60)
                                    for _ in range(3))
        # The bytes read over iSCSI are those of the file (holes read as zeros on both sides).
        run(["qemu-img", "compare", "-f", "raw", "-F", "raw", url, volume_file], env=env, timeout=600)
        log("qemu-img compare: the iSCSI LUN and the volume file are identical")

        read = ["qemu-img", "bench", "-f", "raw", "-t", "writeback", "-c", str(count), "-s", str(CHUNK), "-d", "8"]
        sides = {"iscsi": (url, env), "direct": (volume_file, None)}
        results = {key: [] for key in ("cold_iscsi", "cold_direct", "warm_iscsi", "warm_direct",
                                       "write_iscsi", "write_direct")}
        dropped = drop_caches()
        if dropped:
            for r in range(args.runs):
                for side in (("iscsi", "direct") if r % 2 == 0 else ("direct", "iscsi")):
                    drop_caches()
                    target, side_env = sides[side]
                    results[f"cold_{side}"].append(timed(read + [target], env=side_env))
        else:
            log("the page cache could not be dropped: no cold-read figures")
        run(read + [volume_file])  # warm: the file's pages, which tgtd reads too, are now in memory
        for r in range(args.runs):
            for side in (("iscsi", "direct") if r % 2 == 0 else ("direct", "iscsi")):
                target, side_env = sides[side]
                results[f"warm_{side}"].append(timed(read + [target], env=side_env))
        log("reads done")

        write = ["qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", "-T", "writeback", "-t", "writeback", source]
        max_dirty = 0
        for r in range(args.runs):
            for side in (("iscsi", "direct") if r % 2 == 0 else ("direct", "iscsi")):
                target, side_env = sides[side]
                os.sync()
                results[f"write_{side}"].append(timed(write + [target], env=side_env))
                max_dirty = max(max_dirty, dirty_kib())
                if r == 0 and side == "iscsi" and sha256_prefix(volume_file, data) != sha256_prefix(source, data):
                    raise BenchError("after the write over iSCSI the volume file does not hold the source's data")
        log("writes done")

        detach(base, attachment_id)
        attachment_id = None

        # Report.
        shown = os.path.relpath(binary, ROOT) if binary.startswith(ROOT + os.sep) else binary
        print(f"\n{args.rounds} rounds, binary {kind} ({shown}); "
              f"{args.data_mib} MiB per throughput run, median of {args.runs}; MB = 10^6 bytes\n")
        print("| operation | p50 | p95 | max |")
        print("|---|---|---|---|")
        for name, values in (("attach: POST /attachments with connector (export, connection info)", create_ms),
                             ("attach: os-complete", complete_ms),
                             ("attach: both (create + complete)", attach_ms),
                             ("detach: DELETE /attachments/{id} (export removed)", detach_ms)):
            print(f"| {name} | {pct(values, 50):.1f} ms | {pct(values, 95):.1f} ms | {max(values):.1f} ms |")
        print(f"\nfirst attach (CHAP credentials generated): {attach_ms[0]:.1f} ms; "
              f"qemu-img info over iSCSI (start, login, logout): {login_s * 1000:.0f} ms\n")
        print("| sequential, 4 MiB requests | over iSCSI | backing file directly | iSCSI / direct |")
        print("|---|---|---|---|")
        rows = []
        if dropped:
            rows.append(("read, cold (page cache dropped before each run), qemu-img bench -d 8", "cold"))
        rows.append(("read, warm (file in the page cache), qemu-img bench -d 8", "warm"))
        rows.append(("write, flushed at the end, qemu-img convert -n -t writeback", "write"))
        for label, key in rows:
            i = data / statistics.median(results[f"{key}_iscsi"]) / 1e6
            d = data / statistics.median(results[f"{key}_direct"]) / 1e6
            print(f"| {label} | {i:,.0f} MB/s | {d:,.0f} MB/s | {i / d:.2f} |")
        print(f"\npage cache dropped for cold reads: {'yes' if dropped else 'no'}; "
              f"most dirty memory right after a write: {max_dirty / 1024:.1f} MiB")
        for key, values in results.items():
            if values:
                print(f"  {key}: " + ", ".join(f"{data / v / 1e6:,.0f}" for v in values) + " MB/s")
    except BenchError as error:
        if ashlar is not None and ashlar.process is not None:
            log(f"ashlar stderr (last lines):\n{ashlar.tail()}")
        sys.exit(f"attach_bench: {error}")
    finally:
        if attachment_id is not None and ashlar is not None and ashlar.process is not None:
            try:
                detach(ashlar.url, attachment_id)
            except Exception as error:  # cleanup goes on regardless
                log(f"cleanup: detach failed: {error}")
        if ashlar is not None:
            ashlar.stop()
        if tgtd is not None:
            tgtd.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

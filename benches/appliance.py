#!/usr/bin/env python3
"""Appliance figures for gatehouse, measured side by side in one run.

- binary size of the release build
- cold start to ready (first 204 from /-/health/ready/), median of 10 starts on a fresh data dir
- RSS right after start, idle (after password buffers are released), right after a login
  run and idle again, from /proc/<pid>/status
- password sign-in latency through the flow executor (the password step, which runs one
  argon2id verify) next to a raw argon2id verify with the same parameters (benches/argon2_raw.rs)

Figures, not pass/fail. Usage: python3 benches/appliance.py [path/to/gatehouse]
"""
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/gatehouse")
PASSWORD = "bench-password-123"
IDLE_WAIT = 50


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(data_dir, port):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "GATEHOUSE_DATA_DIR": data_dir,
        "GATEHOUSE_LISTEN__HTTP": f"127.0.0.1:{port}",
        "GATEHOUSE_LISTEN__HTTPS": f"127.0.0.1:{free_port()}",
        "GATEHOUSE_LOG_LEVEL": "warn",
        "AUTHENTIK_BOOTSTRAP_PASSWORD": PASSWORD,
    }
    begin = time.perf_counter()
    process = subprocess.Popen([BINARY, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/-/health/ready/")
            if conn.getresponse().status == 204:
                return process, (time.perf_counter() - begin) * 1000
        except OSError:
            pass
        if process.poll() is not None:
            raise SystemExit("gatehouse exited during start")
        time.sleep(0.001)


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def stop(process):
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=15)


def raw_verifier():
    """The argon2_raw bench in serve mode: one raw verify per line, interleaved with logins."""
    subprocess.check_call(["cargo", "bench", "-q", "--bench", "argon2_raw", "--no-run"], cwd=ROOT, stderr=subprocess.DEVNULL)
    return subprocess.Popen(["cargo", "bench", "-q", "--bench", "argon2_raw"], cwd=ROOT,
                            env={**os.environ, "ARGON2_SERVE": "1"}, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def raw_verify_ms(verifier):
    verifier.stdin.write("go\n")
    verifier.stdin.flush()
    return float(verifier.stdout.readline())


def login_latency(port, verifier, rounds=30):
    timings, raw = [], []
    for _ in range(rounds):
        raw.append(raw_verify_ms(verifier))
        conn = http.client.HTTPConnection("127.0.0.1", port)
        path = "/api/v3/flows/executor/default-authentication-flow/"
        conn.request("GET", path)
        response = conn.getresponse()
        cookie = response.getheader("set-cookie").split(";")[0]
        response.read()
        headers = {"Content-Type": "application/json", "Cookie": cookie}
        conn.request("POST", path, json.dumps({"component": "ak-stage-identification", "uid_field": "akadmin"}), headers)
        conn.getresponse().read()
        begin = time.perf_counter()
        conn.request("POST", path, json.dumps({"component": "ak-stage-password", "password": PASSWORD}), headers)
        body = json.loads(conn.getresponse().read())
        timings.append((time.perf_counter() - begin) * 1000)
        assert body.get("component") == "xak-flow-redirect", body
        conn.close()
    return statistics.median(timings), statistics.median(raw)


def main():
    figures = {"binary_size_mb": round(os.path.getsize(BINARY) / 1e6, 2)}
    # The very first start creates the database, the TLS certificate and the signing keys
    # (RSA generation dominates); every later start opens what is there.
    data_dir = tempfile.mkdtemp()
    process, first = start(data_dir, free_port())
    stop(process)
    figures["first_start_to_ready_ms"] = round(first, 1)
    starts = []
    for _ in range(10):
        process, elapsed = start(data_dir, free_port())
        starts.append(elapsed)
        stop(process)
    shutil.rmtree(data_dir)
    figures["cold_start_to_ready_ms_median"] = round(statistics.median(starts), 1)

    data_dir = tempfile.mkdtemp()
    port = free_port()
    process, _ = start(data_dir, port)
    time.sleep(1)
    figures["rss_1s_after_ready_mb"] = round(rss_mb(process.pid), 1)
    # Password work buffers are released 30-45 s after the last hash.
    time.sleep(IDLE_WAIT)
    figures["idle_rss_mb"] = round(rss_mb(process.pid), 1)
    verifier = raw_verifier()
    login, raw_interleaved = login_latency(port, verifier)
    verifier.stdin.close()
    verifier.wait()
    figures["rss_right_after_logins_mb"] = round(rss_mb(process.pid), 1)
    time.sleep(IDLE_WAIT)
    figures["idle_rss_after_logins_mb"] = round(rss_mb(process.pid), 1)
    stop(process)
    shutil.rmtree(data_dir)

    figures["password_step_ms_median"] = round(login, 2)
    figures["raw_argon2_verify_interleaved_ms_median"] = round(raw_interleaved, 2)
    figures["login_overhead_ms"] = round(login - raw_interleaved, 2)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Forward-auth decision rate next to nginx's static 200, measured in one run.

Starts the release binary on a fresh data directory, creates a forward_single proxy
provider (external host http://app.test:<gatehouse port>, so the sign-in callback reaches
gatehouse directly), its application and the embedded outpost assignment, signs a user in
through the flow executor API (tests/interop/forward_auth/harness.py) to get a valid proxy
session cookie, and starts nginx with `return 200 "ok";`. Then, with wrk:

  (a) nginx's static 200
  (b) gatehouse's /outpost.goauthentik.io/auth/nginx with the cookie and X-Original-URL,
      as nginx's auth_request sends it (a valid session: 200 with the X-authentik-* headers)

at full load (`wrk -t2 -c64 --latency`, shared/BENCHMARKS.md's settings) and at moderate
load (`-t1 -c4`) for the p99, in rounds that alternate the two (a burst of other work on
a 2-core machine skews a single pair by tens of percent). Prints the medians of req/s,
p50 and p99 for each, and the ratio to nginx per round and its median (goals: >= 70% of
nginx, p99 < 1 ms at moderate load). Figures, not pass/fail: exits 0 when it ran,
non-zero only when it could not measure (no wrk/nginx, setup failed, or the auth
endpoint did not answer 200).

    python3 benches/forward_auth.py [path/to/gatehouse]

Environment: GATEHOUSE_BIN (else target/release/gatehouse, built with `cargo build
--release` when missing), BENCH_SECONDS (one full-load run, default 15),
BENCH_MODERATE_SECONDS (default 10), BENCH_ROUNDS (default 3), BENCH_WARMUP_SECONDS
(default 2); a quick run: BENCH_ROUNDS=1 BENCH_SECONDS=5 BENCH_MODERATE_SECONDS=5.
Needs `requests` (re-runs itself in the interop venv, target/interop-venv, when this
Python lacks it), wrk and nginx (apt-get install -y --no-install-recommends caddy
nginx-light wrk). Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORWARD_AUTH = ROOT / "tests" / "interop" / "forward_auth"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
if not TARGET.is_absolute():
    TARGET = ROOT / TARGET

try:
    import requests  # noqa: F401 - the harness needs it
except ImportError:
    venv_python = TARGET / "interop-venv" / "bin" / "python"
    if venv_python.exists() and Path(sys.executable) != venv_python:
        os.execv(str(venv_python), [str(venv_python), __file__, *sys.argv[1:]])
    sys.exit("benches/forward_auth.py needs `requests`: pip install requests, or run "
             "`bash tests/interop/run.sh` once (it makes target/interop-venv)")

sys.path.insert(0, str(FORWARD_AUTH))
import harness  # noqa: E402
import services  # noqa: E402

FULL = ["-t2", "-c64"]
MODERATE = ["-t1", "-c4"]
NGINX_STATIC = """\
{user}
worker_processes auto;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "ok"; }}
    }}
}}
"""


def seconds(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        sys.exit(f"{name} must be a whole number of seconds")


def binary() -> Path:
    explicit = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("GATEHOUSE_BIN")
    if explicit:
        return Path(explicit)
    path = TARGET / "release" / "gatehouse"
    if not path.exists():
        print("building the release binary (cargo build --release)", flush=True)
        subprocess.check_call(["cargo", "build", "--release"], cwd=ROOT)
    return path


def start_gatehouse(path: Path, data_dir: Path, port: int, token: str) -> subprocess.Popen:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "GATEHOUSE_DATA_DIR": str(data_dir),
        "GATEHOUSE_LISTEN__HTTP": f"127.0.0.1:{port}",
        "GATEHOUSE_LISTEN__HTTPS": "off",
        "GATEHOUSE_LISTEN__METRICS": "off",
        "GATEHOUSE_LOG_LEVEL": "warn",
        "AUTHENTIK_BOOTSTRAP_PASSWORD": "Bench-" + secrets.token_urlsafe(12),
        "AUTHENTIK_BOOTSTRAP_TOKEN": token,
        "AUTHENTIK_BOOTSTRAP_EMAIL": "admin@example.com",
    }
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - kept open for the child
    process = subprocess.Popen([str(path), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"gatehouse exited during start; log: {data_dir / 'server.log'}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/-/health/ready/", timeout=1).status_code == 204:
                return process
        except requests.RequestException:
            pass
        time.sleep(0.05)
    process.kill()
    sys.exit("gatehouse was not ready within 30 s")


def sign_in(base: str, token: str, port: int) -> tuple[str, str]:
    """A provider, its application, the outpost assignment and a signed-in browser: the
    proxy session cookie and the X-Original-URL to send with it."""
    api = harness.Api(base, token)
    implicit = harness.flow_pk(api, harness.IMPLICIT_CONSENT)
    invalidation = harness.flow_pk(api, harness.INVALIDATION)
    app_host = f"http://app.test:{port}"
    user = harness.create_user(api, "bench-user", "Bench User")
    group = harness.create_group(api, "bench-members", [user["pk"]])
    provider = harness.create_proxy_provider(api, harness.proxy_provider_request(
        "bench forward auth", implicit, invalidation, app_host, "forward_single"))
    application = harness.create_application(api, "bench-forward-auth", "Bench forward auth",
                                             provider["pk"])
    harness.bind_group(api, application["pk"], group["pk"])
    harness.assign_to_embedded_outpost(api, [provider["pk"]], f"http://auth.test:{port}")

    browser = harness.Browser(user)
    original = f"{app_host}/bench/page"
    start = f"{app_host}{harness.OUTPOST_PREFIX}/start?rd={requests.utils.quote(original, safe='')}"
    # The external host is gatehouse itself here: stop once the browser is sent back to
    # the original URL, which only a reverse proxy would serve.
    landed = browser.follow(start, stop=lambda url: url == original)
    if landed != original:
        sys.exit(f"sign-in did not return to {original}: {browser.trail()}")
    cookie = browser.cookie_header(original)
    if not cookie:
        sys.exit(f"no cookie for app.test after sign-in: {browser.trail()}")
    return cookie, original


def check_auth(port: int, cookie: str, original: str) -> None:
    response = requests.get(f"http://127.0.0.1:{port}{harness.OUTPOST_PREFIX}/auth/nginx",
                            headers={"Cookie": cookie, "X-Original-URL": original, "Host": "app.test"},
                            timeout=10)
    if response.status_code != 200 or not response.headers.get("X-authentik-username"):
        sys.exit(f"auth/nginx with the session answered {response.status_code} "
                 f"{dict(response.headers)}: nothing to measure")


def start_nginx(workdir: Path) -> services.Service:
    services.require_tools("nginx")
    port = services.free_port()
    directory = workdir / "nginx"
    directory.mkdir()
    config = directory / "nginx.conf"
    config.write_text(NGINX_STATIC.format(
        dir=directory, port=port, user="user root;" if os.geteuid() == 0 else ""))
    argv = ["nginx", "-p", f"{directory}/", "-c", str(config), "-e", str(directory / "error.log"),
            "-g", "daemon off;"]
    return services.Service("nginx", argv, workdir, port,
                            extra_logs=(directory / "error.log",)).start()


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def to_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * UNITS[unit]


def wrk(shape: list[str], duration: int, url: str, headers: dict[str, str]) -> dict:
    argv = ["wrk", *shape, f"-d{duration}s", "--latency", "--timeout", "5s"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    output = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    figures: dict = {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))}
    for percentile in ("50", "99"):
        found = re.search(rf"^\s+{percentile}%\s+(\S+)", output, re.MULTILINE)
        figures[f"p{percentile}_ms"] = round(to_ms(found.group(1)), 3) if found else None
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:(.*)", output)
    figures["non_2xx"] = int(bad.group(1)) if bad else 0
    if errors:
        figures["socket_errors"] = errors.group(1).strip()
    return figures


def summarize(runs: list[dict]) -> dict:
    """The median of each figure over the rounds."""
    summary = {}
    for key in ("requests_per_s", "p50_ms", "p99_ms"):
        values = [run[key] for run in runs if run.get(key) is not None]
        summary[key] = round(statistics.median(values), 3) if values else None
    return summary


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def main() -> int:
    services.require_tools("wrk", "nginx")
    full_s = seconds("BENCH_SECONDS", 15)
    moderate_s = seconds("BENCH_MODERATE_SECONDS", 10)
    warmup_s = seconds("BENCH_WARMUP_SECONDS", 2)
    rounds = seconds("BENCH_ROUNDS", 3)
    path = binary()
    harness.resolve_test_names()
    workdir = Path(tempfile.mkdtemp(prefix="gatehouse-bench-fa."))
    data_dir = workdir / "data"
    data_dir.mkdir()
    port = services.free_port()
    token = secrets.token_urlsafe(24)
    gatehouse = start_gatehouse(path, data_dir, port, token)
    nginx = None
    try:
        try:
            cookie, original = sign_in(f"http://127.0.0.1:{port}", token, port)
        except harness.CheckFailed as failure:
            sys.exit(f"setup failed: {failure}")
        check_auth(port, cookie, original)
        nginx = start_nginx(workdir)
        targets = {
            "nginx_static_200": (f"http://127.0.0.1:{nginx.port}/", {}),
            "gatehouse_auth_nginx": (
                f"http://127.0.0.1:{port}{harness.OUTPOST_PREFIX}/auth/nginx",
                {"Cookie": cookie, "X-Original-URL": original, "Host": "app.test"},
            ),
        }
        print(f"gatehouse {path} on 127.0.0.1:{port}, nginx on 127.0.0.1:{nginx.port}; "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (other work on "
              f"the machine skews both figures); {rounds} round(s) of full load "
              f"{' '.join(FULL)} {full_s}s and moderate {' '.join(MODERATE)} {moderate_s}s",
              flush=True)
        results: dict = {"rss_before_mb": rss_mb(gatehouse.pid)}
        runs = {name: {"full": [], "moderate": []} for name in targets}
        for url, headers in targets.values():
            wrk(FULL, warmup_s, url, headers)
        # Rounds alternate the two targets, so a burst of other work on the machine hits
        # both; the ratio is taken per round and its median reported.
        for _ in range(rounds):
            for load, shape, duration in (("full", FULL, full_s), ("moderate", MODERATE, moderate_s)):
                for name, (url, headers) in targets.items():
                    runs[name][load].append(wrk(shape, duration, url, headers))
        results["rss_after_mb"] = rss_mb(gatehouse.pid)
    finally:
        if nginx is not None:
            nginx.stop()
        gatehouse.send_signal(signal.SIGTERM)
        try:
            gatehouse.wait(timeout=15)
        except subprocess.TimeoutExpired:
            gatehouse.kill()
        shutil.rmtree(workdir, ignore_errors=True)

    for name in targets:
        results[name] = {load: {"median": summarize(runs[name][load]), "rounds": runs[name][load]}
                         for load in ("full", "moderate")}
    ratios = [auth["requests_per_s"] / static["requests_per_s"]
              for auth, static in zip(runs["gatehouse_auth_nginx"]["full"],
                                      runs["nginx_static_200"]["full"])
              if static["requests_per_s"]]
    ratio = statistics.median(ratios) if ratios else 0.0
    results["ratio_auth_to_nginx_per_round"] = [round(r, 3) for r in ratios]
    results["ratio_auth_to_nginx_median"] = round(ratio, 3)
    print(f"medians of {rounds} round(s)")
    print(f"{'':24} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8}   {'moderate req/s':>14} "
          f"{'p50 ms':>8} {'p99 ms':>8}")
    for name in targets:
        full, moderate = results[name]["full"]["median"], results[name]["moderate"]["median"]
        print(f"{name:24} {full['requests_per_s']:>10.0f} {full['p50_ms']:>8} {full['p99_ms']:>8}   "
              f"{moderate['requests_per_s']:>14.0f} {moderate['p50_ms']:>8} {moderate['p99_ms']:>8}")
        bad = sum(run["non_2xx"] for load in ("full", "moderate") for run in runs[name][load])
        if bad:
            print(f"  WARNING: {name} had {bad} non-2xx answers: its figures are not a "
                  f"forward-auth decision")
    p99 = results["gatehouse_auth_nginx"]["moderate"]["median"]["p99_ms"]
    print(f"forward auth / nginx static: {ratio:.0%} (per round: "
          f"{', '.join(f'{r:.0%}' for r in ratios)}; goal >= 70%: "
          f"{'met' if ratio >= 0.7 else 'not met'}); p99 at moderate load {p99} ms "
          f"(goal < 1 ms: {'met' if p99 is not None and p99 < 1 else 'not met'})")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

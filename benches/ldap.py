#!/usr/bin/env python3
"""gatehouse's LDAP listener next to OpenLDAP slapd (back-mdb), measured in one run.

Loads the same directory into both: 1,000 users `userNNNN` (cn, sn, givenName, mail, uid,
uidNumber/gidNumber; on slapd inetOrgPerson + posixAccount with an {SSHA} userPassword),
50 groups `groupNN` of 20 members, and a bench account allowed to read the directory.
gatehouse gets it through the REST API with the bootstrap token (as
tests/interop/ldap/ldap_test.py): users, groups, memberships, passwords for the first 20
users and the bench account, an LDAP provider whose search group holds the bench account,
its application (bound to a group of those users) and the embedded outpost assignment.
slapd gets an LDIF through slapadd and runs from benches/ldap/slapd.conf.in in a temp dir.

One load generator for both servers, benches/ldap/client.rs (std-only Rust, built here
with `rustc -O`): 8 persistent connections, BENCH_SECONDS per mode and server, rounds
alternating the servers (a burst of other work on a 2-core machine then hits both):

  eq    subtree search (uid=userNNNN), N random in 0..999, all user attributes
  all   subtree search of all users, all user attributes ((objectClass=inetOrgPerson)
        on slapd, (objectClass=user) on gatehouse)
  bind  simple bind of userNNNN (N random in 0..19) with the right password; gatehouse's
        argon2id at the release binary's defaults, slapd's salted SHA-1
  bind1 the same on one connection: bind latency without queueing, next to a raw argon2id
        verify with the same parameters run just before it (benches/argon2_raw.rs: its
        built executable, else `cargo bench --bench argon2_raw`)

Prints ops/s, p50/p99 per mode and server, gatehouse/slapd per round and the median,
gatehouse's RSS (fresh and idle, loaded and searched, after the search load, after the
bind load) and the RSS per 1,000 users (loaded and searched minus fresh, both taken when
no password hash ran for 46 s, since gatehouse keeps argon2 work buffers 30-45 s), the
time of the first search after a change (the directory view is rebuilt), and the load
average. Figures, not pass/fail: exits 0 when it ran, non-zero only when it could not
measure (no slapd, setup failed, the client could not bind).

    python3 benches/ldap.py [path/to/gatehouse]

Environment: GATEHOUSE_BIN (else target/release/gatehouse, built with `cargo build
--release` when missing), BENCH_SECONDS (per mode, server and round; default 15),
BENCH_ROUNDS (default 3), BENCH_WARMUP_SECONDS (default 1), BENCH_IDLE_SECONDS (the quiet
spell before the RSS figures; default 46, 0 = do not wait: the figures may then include
argon2 buffers), BENCH_ARGON2 (0 = skip the raw argon2 reference). Quick run:
BENCH_SECONDS=3 BENCH_ROUNDS=1. Needs slapd and slapadd (DEBIAN_FRONTEND=noninteractive
apt-get install -y slapd ldap-utils; a system slapd the package starts is not used),
rustc, and `requests` + `ldap3` (re-runs itself in target/interop-venv when this Python
lacks them). Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent / "ldap"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
if not TARGET.is_absolute():
    TARGET = ROOT / TARGET

try:
    import requests
    from ldap3 import SUBTREE, Connection, Server
except ImportError:
    venv_python = TARGET / "interop-venv" / "bin" / "python"
    if venv_python.exists() and Path(sys.executable) != venv_python:
        os.execv(str(venv_python), [str(venv_python), __file__, *sys.argv[1:]])
    sys.exit("benches/ldap.py needs `requests` and `ldap3`: pip install requests ldap3, or run "
             "`bash tests/interop/run.sh` once (it makes target/interop-venv)")

BASE = "DC=ldap,DC=goauthentik,DC=io"  # gatehouse's default base DN (authentik's)
SUFFIX = "dc=ldap,dc=goauthentik,dc=io"  # the same, as slapd is configured
USERS = 1000
GROUPS = 50
BIND_USERS = 20
CONNECTIONS = 8
PASSWORD = "Bench-ldap-pw-42"
BENCH_ACCOUNT = "bench"
MODES = ("eq", "all", "bind", "bind1")
GOALS = {"eq": 0.7, "all": 0.5}


def seconds(name: str, default: int, minimum: int = 1) -> int:
    try:
        return max(minimum, int(os.environ.get(name, default)))
    except ValueError:
        sys.exit(f"{name} must be a whole number")


def binary() -> Path:
    explicit = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("GATEHOUSE_BIN")
    if explicit:
        return Path(explicit)
    path = TARGET / "release" / "gatehouse"
    if not path.exists():
        print("building the release binary (cargo build --release)", flush=True)
        subprocess.check_call(["cargo", "build", "--release"], cwd=ROOT)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def build_client() -> Path:
    source = HERE / "client.rs"
    out = TARGET / "ldap-bench" / "client"
    if not out.exists() or out.stat().st_mtime < source.stat().st_mtime:
        if not shutil.which("rustc"):
            sys.exit("rustc is needed to build benches/ldap/client.rs")
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.check_call(["rustc", "-O", "--edition", "2021", "-C", "codegen-units=1",
                               str(source), "-o", str(out)])
    return out


def wait_for_port(port: int, process: subprocess.Popen, name: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{name} exited during start; log: {log}:\n{log.read_text(errors='replace')[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    sys.exit(f"{name} did not listen on 127.0.0.1:{port} within 30 s")


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- gatehouse ---------------------------------------------------------------------------

def start_gatehouse(path: Path, data_dir: Path, http_port: int, ldap_port: int,
                    token: str) -> subprocess.Popen:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "GATEHOUSE_DATA_DIR": str(data_dir),
        "GATEHOUSE_LISTEN__HTTP": f"127.0.0.1:{http_port}",
        "GATEHOUSE_LISTEN__HTTPS": "off",
        "GATEHOUSE_LISTEN__METRICS": "off",
        "GATEHOUSE_LISTEN__LDAP": f"127.0.0.1:{ldap_port}",
        "GATEHOUSE_LISTEN__LDAPS": "off",
        "GATEHOUSE_LISTEN__RADIUS": "off",
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
            if requests.get(f"http://127.0.0.1:{http_port}/-/health/ready/", timeout=1).status_code == 204:
                wait_for_port(ldap_port, process, "gatehouse's LDAP listener", data_dir / "server.log")
                return process
        except requests.RequestException:
            pass
        time.sleep(0.05)
    process.kill()
    sys.exit("gatehouse was not ready within 30 s")


class Api:
    """The REST API with the bootstrap token; one session per thread."""

    def __init__(self, base: str, token: str):
        self.base = base
        self.token = token
        self.local = threading.local()

    def session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
            self.local.session.headers["Authorization"] = f"Bearer {self.token}"
        return self.local.session

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        response = self.session().request(method, f"{self.base}/api/v3/{path}", json=body, timeout=60)
        if response.status_code >= 300:
            raise SystemExit(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.text else {}

    def post(self, path: str, body: dict) -> dict:
        return self.call("POST", path, body)


def setup_gatehouse(api: Api) -> tuple[float, float]:
    """The directory, as slapd gets it. Returns (seconds taken, monotonic time of the last
    password hash)."""
    begin = time.monotonic()
    flows = api.call("GET", "flows/instances/?slug=default-authentication-flow")
    flow = next(f["pk"] for f in flows["results"] if f["slug"] == "default-authentication-flow")
    users_group = api.post("core/groups/", {"name": "ldap-users"})
    search_group = api.post("core/groups/", {"name": "ldap-search"})
    provider = api.post("providers/ldap/", {"name": "Bench directory", "authorization_flow": flow,
                                            "search_group": search_group["pk"]})
    app = api.post("core/applications/", {"name": "Bench directory", "slug": "bench-directory",
                                          "provider": provider["pk"]})
    api.post("policies/bindings/", {"target": app["pk"], "group": users_group["pk"], "order": 0})
    outposts = api.call("GET", "outposts/instances/")["results"]
    embedded = next((o for o in outposts if o.get("managed") == "goauthentik.io/outposts/embedded"),
                    outposts[0])
    api.call("PATCH", f"outposts/instances/{embedded['pk']}/", {"providers": [provider["pk"]]})
    groups = [api.post("core/groups/", {"name": f"group{g:02d}"}) for g in range(GROUPS)]

    bench = api.post("core/users/", {"username": BENCH_ACCOUNT, "name": "Bench Reader",
                                     "email": "bench@example.com"})
    for group in (users_group, search_group):
        api.post(f"core/groups/{group['pk']}/add_user/", {"pk": bench["pk"]})

    def user(n: int) -> None:
        created = api.post("core/users/", {"username": f"user{n:04d}", "name": f"User {n:04d}",
                                           "email": f"user{n:04d}@example.com"})
        api.post(f"core/groups/{groups[n % GROUPS]['pk']}/add_user/", {"pk": created["pk"]})
        if n < BIND_USERS:
            api.post(f"core/groups/{users_group['pk']}/add_user/", {"pk": created["pk"]})
            api.post(f"core/users/{created['pk']}/set_password/", {"password": PASSWORD})

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        # The passwords first (argon2 hashes): the quiet spell before the RSS figures
        # starts as early as it can.
        api.post(f"core/users/{bench['pk']}/set_password/", {"password": PASSWORD})
        list(pool.map(user, range(BIND_USERS)))
        last_hash = time.monotonic()
        list(pool.map(user, range(BIND_USERS, USERS)))
    return time.monotonic() - begin, last_hash


# --- slapd -------------------------------------------------------------------------------

def ssha(password: str) -> str:
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def ldif() -> str:
    parts = [
        f"dn: {SUFFIX}\nobjectClass: top\nobjectClass: domain\ndc: ldap\n",
        f"dn: ou=users,{SUFFIX}\nobjectClass: top\nobjectClass: organizationalUnit\nou: users\n",
        f"dn: ou=groups,{SUFFIX}\nobjectClass: top\nobjectClass: organizationalUnit\nou: groups\n",
    ]

    def person(username: str, given: str, surname: str, number: int) -> str:
        return (f"dn: cn={username},ou=users,{SUFFIX}\n"
                "objectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\n"
                "objectClass: inetOrgPerson\nobjectClass: posixAccount\n"
                f"cn: {username}\nuid: {username}\nsn: {surname}\ngivenName: {given}\n"
                f"displayName: {given} {surname}\nmail: {username}@example.com\n"
                f"uidNumber: {number}\ngidNumber: {number}\nhomeDirectory: /home/{username}\n"
                f"loginShell: /bin/bash\nuserPassword: {ssha(PASSWORD)}\n")

    parts.append(person(BENCH_ACCOUNT, "Bench", "Reader", 1999))
    for n in range(USERS):
        parts.append(person(f"user{n:04d}", "User", f"{n:04d}", 2000 + n))
    for g in range(GROUPS):
        members = "".join(f"member: cn=user{n:04d},ou=users,{SUFFIX}\n"
                          for n in range(g, USERS, GROUPS))
        parts.append(f"dn: cn=group{g:02d},ou=groups,{SUFFIX}\nobjectClass: top\n"
                     f"objectClass: groupOfNames\ncn: group{g:02d}\n{members}")
    return "\n".join(parts)


def start_slapd(workdir: Path) -> tuple[subprocess.Popen, int]:
    for tool in ("slapd", "slapadd"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            sys.exit(f"{tool} is missing: DEBIAN_FRONTEND=noninteractive apt-get install -y slapd ldap-utils")
    slapd = shutil.which("slapd") or "/usr/sbin/slapd"
    slapadd = shutil.which("slapadd") or "/usr/sbin/slapadd"
    directory = workdir / "slapd"
    (directory / "db").mkdir(parents=True)
    config = directory / "slapd.conf"
    template = string.Template((HERE / "slapd.conf.in").read_text())
    config.write_text(template.substitute(dir=directory, suffix=SUFFIX))
    data = directory / "data.ldif"
    data.write_text(ldif())
    subprocess.run([slapadd, "-q", "-f", str(config), "-l", str(data)], check=True,
                   capture_output=True)
    port = free_port()
    log = directory / "slapd.log"
    # -d 0: in the foreground (this script's child), no debug output.
    process = subprocess.Popen([slapd, "-h", f"ldap://127.0.0.1:{port}/", "-f", str(config), "-d", "0"],
                               stdout=open(log, "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
    wait_for_port(port, process, "slapd", log)
    return process, port


# --- load --------------------------------------------------------------------------------

def client_args(server: dict, mode: str, duration: int) -> list[str]:
    base = server["base"]
    return [
        f"addr=127.0.0.1:{server['port']}",
        f"mode={'bind' if mode == 'bind1' else mode}",
        f"seconds={duration}",
        f"conns={1 if mode == 'bind1' else CONNECTIONS}",
        f"base={base}",
        f"bind_dn=cn={BENCH_ACCOUNT},ou=users,{base}",
        f"password={PASSWORD}",
        f"user_dn=cn=user{{n}},ou=users,{base}",
        f"user_password={PASSWORD}",
        f"bind_users={BIND_USERS}",
        f"users={USERS}",
        f"all_class={server['all_class']}",
        f"expect_all={server['expect_all']}",
    ]


def run_client(client: Path, server: dict, mode: str, duration: int) -> dict:
    done = subprocess.run([str(client), *client_args(server, mode, duration)],
                          capture_output=True, text=True, timeout=duration + 120)
    if done.returncode != 0:
        sys.exit(f"the client failed against {server['name']} ({mode}): {done.stderr.strip()}")
    return json.loads(done.stdout)


def sanity(server: dict) -> dict:
    """One bind and two searches with ldap3: the directory is there, and what an entry
    carries on each server. The first search on gatehouse builds its directory view."""
    connection = Connection(Server("127.0.0.1", port=server["port"]),
                            user=f"cn={BENCH_ACCOUNT},ou=users,{server['base']}", password=PASSWORD)
    if not connection.bind():
        sys.exit(f"{server['name']}: the bench account could not bind: {connection.result}")
    begin = time.perf_counter()
    connection.search(server["base"], "(uid=user0042)", SUBTREE, attributes=["*"])
    first_ms = (time.perf_counter() - begin) * 1000
    if len(connection.entries) != 1:
        sys.exit(f"{server['name']}: (uid=user0042) found {len(connection.entries)} entries")
    attributes = sorted(connection.response[0]["raw_attributes"])
    connection.search(server["base"], f"(objectClass={server['all_class']})", SUBTREE,
                      attributes=["1.1"], size_limit=0)
    found = len(connection.entries)
    connection.unbind()
    if found < USERS:
        sys.exit(f"{server['name']}: the search of all users found {found} entries")
    return {"first_eq_search_ms": round(first_ms, 2), "user_attributes": attributes,
            "all_users_entries": found}


def rebuild_ms(api: Api, server: dict, samples: int = 5) -> dict:
    """A change to a user moves gatehouse's identity epoch: the next search rebuilds the
    directory view. The first search after a change, next to the one after it."""
    connection = Connection(Server("127.0.0.1", port=server["port"]),
                            user=f"cn={BENCH_ACCOUNT},ou=users,{server['base']}", password=PASSWORD,
                            auto_bind=True)
    users = api.call("GET", "core/users/?username=user0999")["results"]
    first, second = [], []
    for i in range(samples):
        api.call("PATCH", f"core/users/{users[0]['pk']}/", {"name": f"User 0999 v{i}"})
        for timings in (first, second):
            begin = time.perf_counter()
            connection.search(server["base"], "(uid=user0042)", SUBTREE, attributes=["*"])
            timings.append((time.perf_counter() - begin) * 1000)
    connection.unbind()
    return {"first_search_after_change_ms_median": round(statistics.median(first), 2),
            "next_search_ms_median": round(statistics.median(second), 2)}


def argon2_reference() -> dict | None:
    if os.environ.get("BENCH_ARGON2", "1") == "0":
        return None
    # A bench executable built from the current source runs directly: `cargo bench` waits
    # for the build directory's lock while other builds run.
    source = ROOT / "benches" / "argon2_raw.rs"
    built = sorted((path for path in (TARGET / "release" / "deps").glob("argon2_raw-*")
                    if not path.suffix and os.access(path, os.X_OK)
                    and path.stat().st_mtime >= source.stat().st_mtime),
                   key=lambda path: path.stat().st_mtime)
    argv = [str(built[-1])] if built else ["cargo", "bench", "-q", "--bench", "argon2_raw"]
    try:
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=900,
                              env={**os.environ, "ARGON2_SAMPLES": "30"})
        line = next(line for line in done.stdout.splitlines() if line.startswith("{"))
        return json.loads(line)
    except (subprocess.SubprocessError, StopIteration, json.JSONDecodeError, OSError) as error:
        print(f"(no raw argon2 reference: {error})", flush=True)
        return None


def wait_idle(since: float, idle: int, what: str) -> None:
    remaining = since + idle - time.monotonic()
    if remaining > 0:
        print(f"waiting {remaining:.0f} s ({what})", flush=True)
        time.sleep(remaining)


def main() -> int:
    duration = seconds("BENCH_SECONDS", 15)
    rounds = seconds("BENCH_ROUNDS", 3)
    warmup = seconds("BENCH_WARMUP_SECONDS", 1, minimum=0)
    idle = seconds("BENCH_IDLE_SECONDS", 46, minimum=0)
    path = binary()
    client = build_client()
    workdir = Path(tempfile.mkdtemp(prefix="gatehouse-bench-ldap."))
    data_dir = workdir / "data"
    data_dir.mkdir()
    http_port, ldap_port = free_port(), free_port()
    token = secrets.token_urlsafe(24)
    load_before = load_average()
    gatehouse = slapd = None
    results: dict = {"cores": os.cpu_count(), "load_average_at_start": load_before,
                     "seconds_per_run": duration, "rounds": rounds, "connections": CONNECTIONS}
    rss: dict = {}
    try:
        started = time.monotonic()
        gatehouse = start_gatehouse(path, data_dir, http_port, ldap_port, token)
        time.sleep(1)
        rss["gatehouse_1s_after_ready_mb"] = rss_mb(gatehouse.pid)
        slapd, slapd_port = start_slapd(workdir)
        # gatehouse makes its dummy hash at start: its work buffer goes 30-45 s later.
        wait_idle(started, idle, "for gatehouse's fresh idle RSS")
        rss["gatehouse_fresh_idle_mb"] = rss_mb(gatehouse.pid)

        api = Api(f"http://127.0.0.1:{http_port}", token)
        setup_s, last_hash = setup_gatehouse(api)
        results["gatehouse_setup_s"] = round(setup_s, 1)
        rss["gatehouse_after_rest_setup_mb"] = rss_mb(gatehouse.pid)
        servers = {
            "slapd": {"name": "slapd", "port": slapd_port, "base": SUFFIX,
                      "all_class": "inetOrgPerson", "pid": slapd.pid},
            "gatehouse": {"name": "gatehouse", "port": ldap_port, "base": BASE,
                          "all_class": "user", "pid": gatehouse.pid},
        }
        for server in servers.values():
            server["expect_all"] = 0
            server["sanity"] = sanity(server)
            server["expect_all"] = server["sanity"]["all_users_entries"]
        rss["slapd_loaded_mb"] = rss_mb(slapd.pid)
        print(f"gatehouse {path} (LDAP 127.0.0.1:{ldap_port}), slapd {slapd_port}; "
              f"{os.cpu_count()} cores, load average {load_average()} (other work on the "
              f"machine skews both figures); {rounds} round(s) of {duration} s per mode and "
              f"server, {CONNECTIONS} connections (bind1: 1)", flush=True)
        for server in servers.values():
            print(f"  {server['name']}: a user entry carries {len(server['sanity']['user_attributes'])} "
                  f"attributes ({', '.join(server['sanity']['user_attributes'])}); the search of all "
                  f"users returns {server['expect_all']} entries; first (uid=) search "
                  f"{server['sanity']['first_eq_search_ms']} ms", flush=True)

        runs: dict = {mode: {name: [] for name in servers} for mode in MODES}
        argon_runs: list = []

        def measure(mode: str) -> None:
            if warmup:
                for server in servers.values():
                    run_client(client, server, mode, warmup)
            for _ in range(rounds):
                for name, server in servers.items():
                    if mode == "bind1" and name == "gatehouse":
                        # The raw verify next to each single-connection bind run: both
                        # see the same machine.
                        argon_runs.append(argon2_reference())
                    runs[mode][name].append(run_client(client, server, mode, duration))
                    figures = runs[mode][name][-1]
                    print(f"  {mode:5} {name:9} {figures['ops_per_s']:>9.1f}/s  p50 "
                          f"{figures['p50_ms']:.3f} ms  p99 {figures['p99_ms']:.3f} ms"
                          f"{'  errors ' + str(figures['errors']) if figures['errors'] else ''}",
                          flush=True)

        for mode in ("eq", "all"):
            measure(mode)
        # Each search connection binds the bench account first: an argon2 verify.
        last_hash = time.monotonic()
        rss["gatehouse_after_search_load_mb"] = rss_mb(gatehouse.pid)
        wait_idle(last_hash, idle, "for gatehouse's RSS with the directory loaded and searched")
        rss["gatehouse_loaded_searched_idle_mb"] = rss_mb(gatehouse.pid)
        rss["slapd_after_search_load_mb"] = rss_mb(slapd.pid)
        for mode in ("bind", "bind1"):
            measure(mode)
        rss["gatehouse_after_bind_load_mb"] = rss_mb(gatehouse.pid)
        rss["slapd_after_all_load_mb"] = rss_mb(slapd.pid)
        results["gatehouse_view_rebuild"] = rebuild_ms(api, servers["gatehouse"])
        results["load_average_at_end"] = load_average()
        argon_runs = [run for run in argon_runs if run]
        if argon_runs:
            results["argon2_raw"] = {
                key: round(statistics.median(run[key] for run in argon_runs), 3)
                for key in ("argon2_verify_ms_median", "argon2_verify_warm_buffer_ms_median")}
            results["argon2_raw"].update({key: argon_runs[0][key] for key in ("memory_kib", "iterations")})
            results["argon2_raw_per_round"] = argon_runs
    finally:
        stop(slapd)
        stop(gatehouse)
        shutil.rmtree(workdir, ignore_errors=True)

    rss["gatehouse_rss_per_1000_users_mb"] = round(
        rss["gatehouse_loaded_searched_idle_mb"] - rss["gatehouse_fresh_idle_mb"], 1)
    results["rss"] = rss
    results["sanity"] = {name: server["sanity"] for name, server in servers.items()}
    summary: dict = {}
    print(f"\nmedians of {rounds} round(s); load average at start {load_before}, at end "
          f"{results['load_average_at_end']} ({os.cpu_count()} cores)")
    print(f"{'mode':6} {'server':10} {'ops/s':>10} {'p50 ms':>9} {'p99 ms':>9} {'entries/op':>11} "
          f"{'bytes/op':>9} {'errors':>7}")
    for mode in MODES:
        summary[mode] = {}
        for name in servers:
            done = runs[mode][name]
            figures = {key: round(statistics.median(run[key] for run in done), 3)
                       for key in ("ops_per_s", "p50_ms", "p99_ms", "entries_per_op", "bytes_per_op")}
            figures["errors"] = sum(run["errors"] + run["wrong_entry_count"] for run in done)
            figures["first_error"] = next((run["first_error"] for run in done if run["first_error"]), "")
            summary[mode][name] = figures
            print(f"{mode:6} {name:10} {figures['ops_per_s']:>10.1f} {figures['p50_ms']:>9.3f} "
                  f"{figures['p99_ms']:>9.3f} {figures['entries_per_op']:>11.1f} "
                  f"{figures['bytes_per_op']:>9.0f} {figures['errors']:>7}"
                  f"{'  ' + figures['first_error'] if figures['first_error'] else ''}")
        ratios = [g["ops_per_s"] / s["ops_per_s"]
                  for g, s in zip(runs[mode]["gatehouse"], runs[mode]["slapd"]) if s["ops_per_s"]]
        summary[mode]["ratio_per_round"] = [round(r, 4) for r in ratios]
        summary[mode]["ratio_median"] = round(statistics.median(ratios), 4) if ratios else 0.0
    results["modes"] = summary
    results["runs"] = runs

    print()
    for mode in MODES:
        ratio = summary[mode]["ratio_median"]
        goal = GOALS.get(mode)
        verdict = f"; goal >= {goal:.0%}: {'met' if ratio >= goal else 'not met'}" if goal else ""
        print(f"{mode:5} gatehouse/slapd {ratio:.1%} (per round: "
              f"{', '.join(f'{r:.1%}' for r in summary[mode]['ratio_per_round'])}){verdict}")
    argon = results.get("argon2_raw")
    bind1 = summary["bind1"]["gatehouse"]["p50_ms"]
    if argon:
        # gatehouse reuses its argon2 work buffers: the warm-buffer verify is the floor.
        overhead = bind1 - argon["argon2_verify_warm_buffer_ms_median"]
        results["gatehouse_bind_overhead_ms"] = round(overhead, 3)
        print(f"bind on one connection: p50 {bind1:.2f} ms, raw argon2id verify (run next to "
              f"it) {argon['argon2_verify_warm_buffer_ms_median']:.2f} ms with a reused buffer, "
              f"{argon['argon2_verify_ms_median']:.2f} ms with a fresh one (m={argon['memory_kib']} "
              f"KiB, t={argon['iterations']}): overhead {overhead:.2f} ms (goal < 1 ms: "
              f"{'met' if overhead < 1 else 'not met'})")
    else:
        print(f"bind on one connection: p50 {bind1:.2f} ms (no raw argon2 reference)")
    rebuild = results["gatehouse_view_rebuild"]
    print(f"gatehouse: first search after a user change (view rebuild) "
          f"{rebuild['first_search_after_change_ms_median']} ms, the next "
          f"{rebuild['next_search_ms_median']} ms (ldap3, medians of 5)")
    print(f"gatehouse RSS: fresh idle {rss['gatehouse_fresh_idle_mb']} MB, after the REST setup "
          f"{rss['gatehouse_after_rest_setup_mb']} MB, after the search load "
          f"{rss['gatehouse_after_search_load_mb']} MB, loaded and searched, idle "
          f"{rss['gatehouse_loaded_searched_idle_mb']} MB, after the bind load "
          f"{rss['gatehouse_after_bind_load_mb']} MB; per 1,000 users "
          f"{rss['gatehouse_rss_per_1000_users_mb']} MB"
          f"{'' if idle >= 46 else ' (BENCH_IDLE_SECONDS < 46: may include argon2 buffers)'}")
    print(f"slapd RSS: loaded {rss['slapd_loaded_mb']} MB, after the search load "
          f"{rss['slapd_after_search_load_mb']} MB, after all load {rss['slapd_after_all_load_mb']} MB")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

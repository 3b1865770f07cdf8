"""Real Caddy and nginx on free loopback ports, from the templates beside this file.

Each runs in the foreground as a child process with its output in a log file inside a
temporary directory; `stop()` ends it (and only it) and `log()` reads what it wrote, so a
failed script can print it. Python standard library only.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
INSTALL_HINT = "apt-get install -y --no-install-recommends caddy nginx-light wrk"


class ServiceError(Exception):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceError(f"{what} exited with status {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ServiceError(f"{what} did not listen on 127.0.0.1:{port} within {timeout} s")


def render(template: str, values: dict[str, str]) -> str:
    text = (HERE / template).read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    left = sorted(set(re.findall(r"@[A-Z_]+@", text)))
    if left:
        raise ServiceError(f"{template}: placeholders left unfilled: {left}")
    return text


def require_tools(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        raise ServiceError(f"missing {', '.join(missing)}: install with `{INSTALL_HINT}`")


class Service:
    """One child process in the foreground, its output in `log_path`."""

    def __init__(self, name: str, argv: list[str], workdir: Path, port: int,
                 env: dict[str, str] | None = None, extra_logs: tuple[Path, ...] = ()) -> None:
        self.name = name
        self.argv = argv
        self.workdir = workdir
        self.port = port
        self.env = env
        self.log_path = workdir / f"{name}.out"
        self.extra_logs = extra_logs
        self.process: subprocess.Popen | None = None

    def start(self) -> "Service":
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self.env, cwd=self.workdir, start_new_session=True,
            )
        try:
            wait_for_port(self.port, self.process, self.name)
        except ServiceError:
            self.stop()
            raise ServiceError(f"{self.name} did not start:\n{self.log()}") from None
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def log(self, tail: int = 120) -> str:
        parts = []
        for path in (self.log_path, *self.extra_logs):
            try:
                lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            parts.append(f"--- {path.name} ---")
            parts.extend(lines[-tail:])
        return "\n".join(parts)


def caddy(workdir: Path, gatehouse: str, upstream: str) -> Service:
    """Caddy with Caddyfile.template; every site on one port. Not started yet."""
    require_tools("caddy")
    port = free_port()
    storage = workdir / "caddy-data"
    storage.mkdir(exist_ok=True)
    config = workdir / "Caddyfile"
    config.write_text(render("Caddyfile.template", {
        "PORT": str(port), "GATEHOUSE": gatehouse, "UPSTREAM": upstream, "STORAGE": str(storage),
    }), encoding="utf-8")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        # Caddy keeps state under $HOME / XDG folders: keep it in the temporary directory.
        "HOME": str(workdir),
        "XDG_DATA_HOME": str(storage),
        "XDG_CONFIG_HOME": str(storage),
    }
    argv = ["caddy", "run", "--adapter", "caddyfile", "--config", str(config)]
    return Service("caddy", argv, workdir, port, env)


def nginx_supports_auth_request() -> bool:
    built = subprocess.run(["nginx", "-V"], capture_output=True, text=True, check=False)
    return "http_auth_request_module" in built.stdout + built.stderr


def nginx(workdir: Path, gatehouse: str, upstream: str) -> Service:
    """nginx with nginx.conf.template, prefix and logs in `workdir`. Not started yet."""
    require_tools("nginx")
    if not nginx_supports_auth_request():
        raise ServiceError(f"this nginx has no auth_request module: install with `{INSTALL_HINT}`")
    port = free_port()
    directory = workdir / "nginx"
    directory.mkdir(exist_ok=True)
    # As root, nginx's workers switch to an unprivileged user that cannot enter a 0700
    # temporary directory; keep them as the invoking user instead.
    user_line = "user root;" if os.geteuid() == 0 else ""
    config = directory / "nginx.conf"
    config.write_text(render("nginx.conf.template", {
        "DIR": str(directory), "PORT": str(port), "GATEHOUSE": gatehouse, "UPSTREAM": upstream,
        "USER": user_line,
    }), encoding="utf-8")
    argv = ["nginx", "-p", f"{directory}/", "-c", str(config), "-e", str(directory / "error.log"),
            "-g", "daemon off;"]
    return Service("nginx", argv, workdir, port,
                   extra_logs=(directory / "error.log", directory / "access.log"))

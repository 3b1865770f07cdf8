#!/usr/bin/env python3
"""Forward authentication behind a real Caddy and a real nginx, and gatehouse's proxy mode.

Starts, on free loopback ports: the echo upstream (upstream.py), Caddy from
Caddyfile.template (authentik's `forward_auth` snippet, plus one site with the shortest
config) and nginx from nginx.conf.template (authentik's `auth_request` config). Creates,
through the REST API with the bootstrap token, a member and a non-member, a group, five
proxy providers with their applications (each bound to the group), assigns them to the
embedded outpost, and gives both users an app password:

    app       forward_single  http://app.test:<caddy>      skip paths, Basic auth (email : attribute)
    short     forward_single  http://short.test:<caddy>    Caddy's shortest config
    domain    forward_domain  http://auth.home.test:<gh>   cookie domain home.test:
                                                           a.home.test and b.home.test
    nginx     forward_single  http://nginx.test:<nginx>    Basic auth (attribute : attribute)
    proxied   proxy           http://proxied.test:<gh>     gatehouse forwards to the upstream

Every `*.test` name resolves to 127.0.0.1 inside this process (harness.py), so the URLs,
Host headers and cookies are the real ones. Each browser is its own requests.Session and
signs in through the flow executor API.

    forward_auth_test.py       (from tests/interop/run.sh, in the interop venv)

Environment: GATEHOUSE_URL (http://127.0.0.1:<port>), GATEHOUSE_TOKEN. Prints
`PASS/FAIL <check>`; a failure ends its scenario and the script goes on with the next;
ends with `N passed, N failed` and exits 1 if anything failed, printing the Caddy, nginx
and upstream logs.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
import scenarios  # noqa: E402
import services  # noqa: E402
from harness import OUTPOST_PREFIX, Browser, Report, expect, expect_equal  # noqa: E402
from upstream import Upstream  # noqa: E402


class World:
    """Everything the scenarios share: addresses, users, providers."""

    def __init__(self, base: str, token: str, workdir: Path) -> None:
        self.base = base.rstrip("/")
        self.api = harness.Api(self.base, token)
        self.gh_port = urlsplit(self.base).port
        self.workdir = workdir
        self.suffix = secrets.token_hex(3)
        self.auth = f"http://auth.test:{self.gh_port}"
        self.upstream = Upstream().start()
        gatehouse = f"127.0.0.1:{self.gh_port}"
        upstream = f"127.0.0.1:{self.upstream.port}"
        self.caddy = services.caddy(workdir, gatehouse, upstream)
        self.nginx = services.nginx(workdir, gatehouse, upstream)
        cp, np = self.caddy.port, self.nginx.port
        self.hosts = {
            "app": f"http://app.test:{cp}",
            "short": f"http://short.test:{cp}",
            "domain": f"http://auth.home.test:{self.gh_port}",
            "nginx": f"http://nginx.test:{np}",
            "proxied": f"http://proxied.test:{self.gh_port}",
        }
        self.a_home = f"http://a.home.test:{cp}"
        self.b_home = f"http://b.home.test:{cp}"
        self.users: dict[str, dict] = {}
        self.group: dict = {}
        self.providers: dict[str, dict] = {}
        self.applications: dict[str, dict] = {}
        self.app_passwords: dict[str, str] = {}

    def stop(self) -> None:
        for service in (self.caddy, self.nginx):
            service.stop()
        self.upstream.stop()

    def logs(self) -> str:
        return "\n".join([
            "----- caddy -----", self.caddy.log(),
            "----- nginx -----", self.nginx.log(),
            "----- echo upstream -----", self.upstream.log(),
        ])

    def seen_paths(self) -> set[str]:
        return {entry["path"] for entry in self.upstream.seen}


# --- setup -------------------------------------------------------------------------------------


def setup(world: World, report: Report) -> None:
    api = world.api
    flows = report.check("setup: authorization and invalidation flows found by slug", lambda: (
        harness.flow_pk(api, harness.IMPLICIT_CONSENT), harness.flow_pk(api, harness.INVALIDATION)))
    sfx = world.suffix

    def users() -> None:
        world.users["alice"] = harness.create_user(
            api, f"fa-alice-{sfx}", "Alice Forward",
            {"fa_basic_password": "Basic-" + secrets.token_urlsafe(12),
             "fa_basic_user": "alice-basic"})
        world.users["bob"] = harness.create_user(api, f"fa-bob-{sfx}", "Bob Outsider")
        world.group = harness.create_group(api, f"fa-members-{sfx}", [world.users["alice"]["pk"]])

    report.check("setup: a member (in the group, with Basic user and password attributes), a "
                 "non-member",
                 users)

    plans = {
        "app": ("forward_single", {
            "skip_path_regex": "^/public/.*$\n^/health$",
            "basic_auth_enabled": True,
            "basic_auth_user_attribute": "",
            "basic_auth_password_attribute": "fa_basic_password",
        }),
        "short": ("forward_single", {}),
        "domain": ("forward_domain", {"cookie_domain": "home.test"}),
        "nginx": ("forward_single", {
            "basic_auth_enabled": True,
            "basic_auth_user_attribute": "fa_basic_user",
            "basic_auth_password_attribute": "fa_basic_password",
        }),
        "proxied": ("proxy", {"internal_host": world.upstream.url,
                              "internal_host_ssl_validation": False}),
    }

    def providers() -> None:
        for role, (mode, settings) in plans.items():
            request = harness.proxy_provider_request(
                f"Forward auth {role} {sfx}", flows[0], flows[1], world.hosts[role], mode, **settings)
            provider = harness.create_proxy_provider(api, request)
            callback = f"{world.hosts[role]}{OUTPOST_PREFIX}/callback"
            if callback not in json.dumps(provider.get("redirect_uris")):
                report.note(f"provider {role}: redirect_uris {provider.get('redirect_uris')!r} "
                            f"do not name {callback}")
            fetched = api.call("GET", f"providers/proxy/{provider['pk']}/", 200)
            expect_equal(fetched.get("client_id"), provider["client_id"], f"{role}: retrieve client_id")
            for key, value in settings.items():
                expect_equal(fetched.get(key), value, f"{role}: {key} as stored")
            world.providers[role] = provider
            slug = f"fa-{role}-{sfx}"
            world.applications[role] = harness.create_application(
                api, slug, f"Forward auth {role} {sfx}", provider["pk"])
            harness.bind_group(api, world.applications[role]["pk"], world.group["pk"])

    report.check("setup: five proxy providers (forward_single, forward_domain, proxy), their "
                 "applications, each bound to the group", providers)

    def not_yet_assigned() -> None:
        response = Browser().get(f"{world.hosts['app']}/before-assignment")
        expect(response.headers.get("X-Echo-Upstream") != "1",
               f"an unassigned provider let a request through: {response.status_code}")

    report.check("a provider not yet assigned to the outpost lets nothing through", not_yet_assigned)

    report.check("setup: providers assigned to the embedded outpost, authentik_host set "
                 "(other config keys kept)",
                 lambda: harness.assign_to_embedded_outpost(
                     api, [p["pk"] for p in world.providers.values()], world.auth))

    def passwords() -> None:
        for name in ("alice", "bob"):
            world.app_passwords[name] = harness.app_password(
                api, world.users[name]["pk"], f"fa-{name}-{sfx}-app-password")

    report.check("setup: app passwords for both users (core/tokens/, view_key/)", passwords)


def main() -> int:
    base = os.environ.get("GATEHOUSE_URL", "")
    token = os.environ.get("GATEHOUSE_TOKEN", "")
    if not (base and token):
        print("set GATEHOUSE_URL and GATEHOUSE_TOKEN", file=sys.stderr)
        return 2
    harness.resolve_test_names()
    workdir = Path(tempfile.mkdtemp(prefix="gatehouse-forward-auth."))
    report = Report()
    world: World | None = None
    try:
        try:
            world = World(base, token, workdir)
            world.caddy.start()
            world.nginx.start()
        except services.ServiceError as error:
            print(f"FAIL  start Caddy and nginx: {error}", flush=True)
            print("0 passed, 1 failed", flush=True)
            return 1
        print(f"caddy on 127.0.0.1:{world.caddy.port}, nginx on 127.0.0.1:{world.nginx.port}, "
              f"echo upstream on {world.upstream.url}, gatehouse on {world.base}", flush=True)
        report.scenario("setup", lambda: setup(world, report))
        if report.failed:
            return report.summary()
        alice_browser = Browser(world.users["alice"])
        report.scenario("Caddy, forward_single", lambda: scenarios.caddy_single(world, report, alice_browser))
        report.scenario("skip paths", lambda: scenarios.skip_paths(world, report))
        report.scenario("intercept header auth", lambda: scenarios.intercept_header_auth(world, report))
        report.scenario("a non-member", lambda: scenarios.non_member(world, report))
        report.scenario("Caddy, shortest config", lambda: scenarios.shortest_caddy(world, report))
        report.scenario("Caddy, forward_domain", lambda: scenarios.domain_mode(world, report))
        report.scenario("nginx, auth_request", lambda: scenarios.nginx_auth_request(world, report))
        report.scenario("proxy mode", lambda: scenarios.proxy_mode(world, report))
        report.scenario("sign-out", lambda: scenarios.sign_out(world, report, alice_browser))
        for name, service in (("caddy", world.caddy), ("nginx", world.nginx)):
            if not service.alive():
                print(f"FAIL  {name} is no longer running", flush=True)
                report.failed.append(f"{name} alive")
        return report.summary()
    finally:
        if world is not None:
            world.stop()
            if report.failed:
                print(world.logs(), flush=True)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

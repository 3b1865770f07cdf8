"""The forward-auth scenarios, one function each; forward_auth_test.py runs them in order
against the `World` it set up (addresses, users, providers, the echo upstream). A failed
check ends its scenario (harness.Report)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests
import websockets
from websockets.sync.client import connect as websocket_connect

from checks import (
    CADDY_ABSENT, FORGED, check_jwt, expect_identity, expect_redirect_to_authorize,
    expect_signed_in_through_executor, from_upstream, header_value, one_header,
)
from harness import OUTPOST_PREFIX, Browser, Denied, Report, basic, expect, expect_equal

if TYPE_CHECKING:
    from forward_auth_test import World


def caddy_single(world: World, report: Report, browser: Browser) -> None:
    app = world.hosts["app"]
    alice = world.users["alice"]
    group = world.group["name"]
    original = f"{app}/private/page?x=1&y=two"
    first: dict = {}

    def unauthenticated() -> None:
        response = browser.get(original)
        first.update(expect_redirect_to_authorize(world, response, "app"))
        expect("/private/page" not in world.seen_paths(), "the upstream saw the request")

    report.check("caddy: an unauthenticated request is redirected (302) to gatehouse's authorize "
                 "endpoint with the callback on app.test", unauthenticated)

    landing: dict = {}

    def sign_in() -> None:
        response = browser.follow(first["location"])
        entry = from_upstream(response, f"after sign-in ({browser.trail()})")
        expect_equal(entry["path"], "/private/page", "path at the upstream")
        expect_equal(entry["raw_query"], "x=1&y=two", "query at the upstream")
        expect_signed_in_through_executor(browser, app)
        expect(browser.cookies_for("app.test"), "no cookie for app.test")
        landing.update(entry)

    report.check("caddy: sign-in through the flow executor API, the callback on app.test sets "
                 "a cookie and returns to the original URL", sign_in)

    def identity() -> None:
        entry = from_upstream(browser.get(f"{app}/whoami"), "GET /whoami")
        expect_identity(entry, alice, group, "caddy")
        expect_equal(one_header(entry, "X-authentik-meta-app", "caddy"),
                     world.applications["app"]["slug"], "X-authentik-meta-app")
        expect_equal(one_header(entry, "X-authentik-meta-provider", "caddy"),
                     world.providers["app"]["name"], "X-authentik-meta-provider")
        for name in ("X-authentik-meta-outpost", "X-authentik-meta-version", "X-authentik-meta-jwks"):
            expect(one_header(entry, name, "caddy"), f"an empty {name}")
        landing.update(entry)

    report.check("caddy: the upstream sees X-authentik-username/email/name/groups/uid and "
                 "the meta headers", identity)

    def jwt() -> None:
        token = one_header(landing, "X-authentik-jwt", "caddy")
        jwks = landing["headers"].get("x-authentik-meta-jwks", [None])[0]
        report.note(f"caddy: X-authentik-jwt is {check_jwt(token, alice, jwks)}")

    report.check("caddy: X-authentik-jwt is a JWT naming the user", jwt)

    def forged() -> None:
        entry = from_upstream(browser.get(f"{app}/forged", headers=FORGED), "GET with forged headers")
        expect_identity(entry, alice, group, "caddy, forged request")

    report.check("caddy: forged X-authentik-* headers from the client do not reach the upstream",
                 forged)

    def traefik() -> None:
        # What Traefik's forwardAuth sends: the original request in X-Forwarded-*.
        endpoint = f"{world.base}{OUTPOST_PREFIX}/auth/traefik"
        forwarded = {"X-Forwarded-Proto": "http", "X-Forwarded-Host": urlsplit(app).netloc,
                     "X-Forwarded-Uri": "/traefik/page?q=1", "X-Forwarded-Method": "GET"}
        signed_in = Browser().get(endpoint, headers={
            **forwarded, "Cookie": browser.cookie_header(f"{app}/traefik/page")})
        expect_equal(signed_in.status_code, 200, "auth/traefik with the session")
        expect_equal(signed_in.headers.get("X-authentik-username"), alice["username"],
                     "X-authentik-username in the auth answer")
        anonymous = Browser().get(endpoint, headers=forwarded)
        expect_redirect_to_authorize(world, anonymous, "app")

    report.check("traefik endpoint, asked as Traefik's forwardAuth asks: 200 with the session, "
                 "302 to sign-in without", traefik)

    def basic_auth() -> None:
        header = one_header(landing, "Authorization", "caddy")
        expect(header.startswith("Basic "), f"Authorization at the upstream: {header!r}")
        decoded = base64.b64decode(header[6:]).decode()
        # authentik sends the email when no user attribute is configured.
        expect_equal(decoded, f"{alice['email']}:{alice['attributes']['fa_basic_password']}",
                     "Basic credentials at the upstream (email, password attribute)")

    report.check("caddy: Basic credentials (email : password attribute, no user attribute "
                 "set) reach the upstream", basic_auth)


def skip_paths(world: World, report: Report) -> None:
    app = world.hosts["app"]
    anonymous = Browser()

    def passes() -> None:
        placeholders = False
        for path in ("/public/readme.txt", "/health"):
            entry = from_upstream(anonymous.get(app + path), f"GET {path}")
            expect_equal(entry["path"], path, "path at the upstream")
            expect(not header_value(entry, "X-authentik-username"),
                   f"{path}: an anonymous request got a username upstream: {entry['headers']}")
            placeholders |= bool(CADDY_ABSENT.match((entry["headers"].get("x-authentik-username") or [""])[0]))
        if placeholders:
            report.note("caddy: on a skip path the upstream gets copy_headers' unexpanded "
                            "placeholders ({http.reverse_proxy.header.X-Authentik-Username}) "
                            "for the headers the auth answer lacks: Caddy 2.6's behaviour")

    report.check("caddy: skip paths (^/public/.*$, ^/health$) pass without a sign-in", passes)

    def anchored() -> None:
        for path in ("/publicity", "/health/deep", "/x/public/y"):
            response = anonymous.get(app + path)
            expect(response.headers.get("X-Echo-Upstream") != "1",
                   f"{path} matched no skip path but reached the upstream")
            expect_equal(response.status_code, 302, f"{path}: status")

    report.check("caddy: paths the skip regexes do not match still need a sign-in", anchored)

    def forged_on_skip_path() -> None:
        entry = from_upstream(anonymous.get(f"{app}/public/forged", headers=FORGED),
                              "GET a skip path with forged headers")
        got = [header_value(entry, "X-authentik-username")]
        if got == ["mallory"]:
            # Caddy 2.6's copy_headers only sets headers the auth answer has; it does not
            # delete a client's copy when the answer has none (a skip path has no user).
            report.note("caddy: on a skip path the client's own X-authentik-username reaches "
                        "the upstream (Caddy's copy_headers leaves absent headers alone)")
        else:
            expect_equal(got, [""], "X-authentik-username at the upstream")

    report.check("caddy: a skip path with a forged X-authentik-username (what reaches upstream)",
                 forged_on_skip_path)


def intercept_header_auth(world: World, report: Report) -> None:
    app = world.hosts["app"]
    alice, bob = world.users["alice"], world.users["bob"]

    def app_password() -> None:
        client = Browser()
        response = client.get(f"{app}/api/items",
                              headers={"Authorization": basic(alice["username"], world.app_passwords["alice"])})
        entry = from_upstream(response, "Basic with an app password")
        expect_equal(one_header(entry, "X-authentik-username", "intercept"), alice["username"],
                     "username at the upstream")
        second = Browser().get(f"{app}/api/items", headers={
            "Authorization": basic(alice["username"], world.app_passwords["alice"])})
        from_upstream(second, "a second cookie-less request with the app password")

    report.check("caddy: intercept header auth: Basic username:app-password passes without a "
                 "cookie", app_password)

    def wrong_password() -> None:
        for label, credentials in (
            ("wrong password", basic(alice["username"], world.app_passwords["alice"] + "x")),
            ("the account password is not an app password", basic(alice["username"], alice["password"])),
            ("another user's app password", basic(alice["username"], world.app_passwords["bob"])),
        ):
            response = Browser().get(f"{app}/api/items", headers={"Authorization": credentials})
            expect(response.headers.get("X-Echo-Upstream") != "1",
                   f"{label}: reached the upstream (HTTP {response.status_code})")
            expect(response.status_code in (302, 401, 403),
                   f"{label}: HTTP {response.status_code}, wanted a redirect or a refusal")

    report.check("caddy: intercept header auth refuses a wrong password", wrong_password)

    def non_member() -> None:
        response = Browser().get(f"{app}/api/bob-intercept",
                                 headers={"Authorization": basic(bob["username"], world.app_passwords["bob"])})
        expect(response.headers.get("X-Echo-Upstream") != "1", "the non-member reached the upstream")
        expect_equal(response.status_code, 403, "status for a non-member's app password")

    report.check("caddy: a non-member's valid app password gets 403", non_member)

    def through_nginx() -> None:
        response = Browser().get(f"{world.hosts['nginx']}/api/items", headers={
            "Authorization": basic(alice["username"], world.app_passwords["alice"])})
        entry = from_upstream(response, "nginx, Basic with an app password")
        expect_equal(one_header(entry, "X-authentik-username", "nginx intercept"), alice["username"],
                     "username at the upstream")

    report.check("nginx: intercept header auth with an app password passes auth_request",
                 through_nginx)


def non_member(world: World, report: Report) -> None:
    app = world.hosts["app"]
    bob = world.users["bob"]
    browser = Browser(bob)
    path = f"/private/bob-{world.suffix}"

    def refused() -> None:
        first = browser.get(app + path)
        expect_equal(first.status_code, 302, "first answer")
        try:
            final = browser.follow(first.headers["Location"])
        except Denied as denied:
            report.note(f"non-member: denied inside the flow executor ({denied}), "
                        f"not with a 403 page")
            return
        expect(not isinstance(final, str), f"stopped at {final}")
        expect(final.headers.get("X-Echo-Upstream") != "1", f"reached the upstream: {browser.trail()}")
        expect_equal(final.status_code, 403, f"final status ({browser.trail()})")
        expect(urlsplit(final.url).hostname != "app.test",
               f"the 403 came from app.test, not from gatehouse's sign-in: {final.url}")

    report.check("caddy: a non-member signs in and gets gatehouse's access-denied page (403)",
                 refused)

    def still_out() -> None:
        again = browser.get(app + path)
        expect(again.headers.get("X-Echo-Upstream") != "1", "the non-member reached the upstream")
        expect(again.status_code in (302, 403), f"second request: HTTP {again.status_code}")
        expect(path not in world.seen_paths(), "the upstream saw the non-member's path")
        names = {header_value(entry, "X-authentik-username") for entry in world.upstream.seen}
        expect(bob["username"] not in names, "the upstream saw the non-member's username")

    report.check("caddy: the non-member is still sent to sign-in and the upstream never sees them",
                 still_out)


def shortest_caddy(world: World, report: Report) -> None:
    short = world.hosts["short"]
    browser = Browser(world.users["alice"])
    first: dict = {}

    def redirect() -> None:
        first.update(expect_redirect_to_authorize(world, browser.get(f"{short}/dash?tab=1"), "short"))

    report.check("caddy (shortest config): unauthenticated → 302 to authorize, callback on "
                 "short.test", redirect)

    def callback() -> None:
        response = browser.follow(first["location"])
        entry = from_upstream(response, f"after sign-in ({browser.trail()})")
        expect_equal((entry["path"], entry["raw_query"]), ("/dash", "tab=1"), "original URL")
        expect_signed_in_through_executor(browser, short)
        expect_identity(entry, world.users["alice"], world.group["name"], "shortest config")

    report.check("caddy (shortest config): the callback completes through forward_auth alone "
                 "and the upstream sees the user", callback)


def domain_mode(world: World, report: Report) -> None:
    browser = Browser(world.users["alice"])
    alice = world.users["alice"]

    def first_host() -> None:
        first = browser.get(f"{world.a_home}/one?n=1")
        expect_equal(first.status_code, 302, f"a.home.test unauthenticated ({first.text[:200]})")
        response = browser.follow(first.headers["Location"])
        entry = from_upstream(response, f"a.home.test after sign-in ({browser.trail()})")
        expect_equal(urlsplit(response.url).netloc, urlsplit(world.a_home).netloc, "landed on")
        expect_equal((entry["path"], entry["raw_query"]), ("/one", "n=1"), "original URL")
        expect_identity(entry, alice, world.group["name"], "a.home.test")
        expect_signed_in_through_executor(browser, world.hosts["domain"])
        domains = sorted({c.domain for c in browser.session.cookies})
        expect(any(d.lstrip(".") == "home.test" for d in domains),
               f"no cookie for the domain home.test; cookie domains: {domains}")

    report.check("caddy, forward_domain: a.home.test signs in once (callback on auth.home.test, "
                 "cookie for home.test)", first_host)

    def second_host() -> None:
        response = browser.get(f"{world.b_home}/two")
        entry = from_upstream(response, f"b.home.test (HTTP {response.status_code} "
                                        f"{response.headers.get('Location', '')})")
        expect_equal(entry["path"], "/two", "path")
        expect_identity(entry, alice, world.group["name"], "b.home.test")

    report.check("caddy, forward_domain: b.home.test lets the same browser in without a second "
                 "sign-in", second_host)

    def stranger() -> None:
        response = Browser().get(f"{world.b_home}/three")
        expect(response.headers.get("X-Echo-Upstream") != "1", "an anonymous browser got in")

    report.check("caddy, forward_domain: another browser is not let in", stranger)


def nginx_auth_request(world: World, report: Report) -> None:
    site = world.hosts["nginx"]
    alice = world.users["alice"]
    browser = Browser(alice)
    hops: dict = {}

    def to_start() -> None:
        response = browser.get(f"{site}/private?y=2")
        expect_equal(response.status_code, 302, f"status ({response.text[:200]})")
        location = response.headers.get("Location", "")
        expect(location.startswith(f"{site}{OUTPOST_PREFIX}/start?rd="),
               f"Location {location!r}, wanted {site}{OUTPOST_PREFIX}/start?rd=...")
        hops["start"] = location

    report.check("nginx: an unauthenticated request is redirected (302) to "
                 "/outpost.goauthentik.io/start", to_start)

    def start_to_authorize() -> None:
        hops["authorize"] = expect_redirect_to_authorize(world, browser.get(hops["start"]), "nginx")

    report.check("nginx: /outpost.goauthentik.io/start redirects to authorize", start_to_authorize)

    def auth_endpoint_401() -> None:
        response = Browser().get(f"{site}{OUTPOST_PREFIX}/auth/nginx")
        expect_equal(response.status_code, 401, "auth/nginx without a session")

    report.check("nginx: /outpost.goauthentik.io/auth/nginx answers 401 without a session",
                 auth_endpoint_401)

    def sign_in() -> None:
        response = browser.follow(hops["authorize"]["location"])
        entry = from_upstream(response, f"after sign-in ({browser.trail()})")
        expect_equal((entry["path"], entry["raw_query"]), ("/private", "y=2"), "original URL")
        expect_signed_in_through_executor(browser, site)
        expect_identity(entry, alice, world.group["name"], "nginx")
        token = one_header(entry, "X-authentik-jwt", "nginx")
        check_jwt(token, alice, None)
        credentials = header_value(entry, "Authorization")
        expect(credentials.startswith("Basic "), f"Authorization at the upstream: {credentials!r}")
        expect_equal(base64.b64decode(credentials[6:]).decode(),
                     f"{alice['attributes']['fa_basic_user']}:{alice['attributes']['fa_basic_password']}",
                     "Basic credentials at the upstream (user attribute, password attribute)")

    report.check("nginx: sign-in through the executor, back at the original URL, the upstream "
                 "sees the user and the Basic credentials from the user attributes", sign_in)

    def forged() -> None:
        entry = from_upstream(browser.get(f"{site}/forged", headers=FORGED), "forged headers")
        expect_identity(entry, alice, world.group["name"], "nginx, forged request")

    report.check("nginx: forged X-authentik-* headers do not reach the upstream", forged)

    def no_open_redirect() -> None:
        ours = {urlsplit(site).netloc, urlsplit(world.auth).netloc}
        for target in ("http://evil.test/", "//evil.test/", "http://evil.test@nginx.test/",
                       "http://nginx.test.evil.test/"):
            url = f"{site}{OUTPOST_PREFIX}/start?rd={requests.utils.quote(target, safe='')}"
            final = browser.follow(url, stop=lambda u: urlsplit(u).netloc not in ours)
            if isinstance(final, str):
                expect(urlsplit(final).hostname != "evil.test" and
                       not urlsplit(final).hostname.endswith(".evil.test"),
                       f"rd={target} led to {final} ({browser.trail()})")
                report.note(f"nginx: /start?rd={target} ends at {final}, off the external host "
                            f"{site} but not on evil.test")

    report.check("nginx: /start?rd= pointing at a foreign host does not redirect there",
                 no_open_redirect)


def proxy_mode(world: World, report: Report) -> None:
    site = world.hosts["proxied"]
    alice = world.users["alice"]
    browser = Browser(alice)
    first: dict = {}

    def redirect() -> None:
        first.update(expect_redirect_to_authorize(world, browser.get(f"{site}/some/path?z=3"), "proxied"))

    report.check("proxy mode: an unauthenticated request to proxied.test is redirected to "
                 "authorize", redirect)

    def served() -> None:
        response = browser.follow(first["location"])
        entry = from_upstream(response, f"after sign-in ({browser.trail()})")
        expect_equal((entry["path"], entry["raw_query"]), ("/some/path", "z=3"), "original URL")
        expect_signed_in_through_executor(browser, site)
        expect_identity(entry, alice, world.group["name"], "proxy mode")

    report.check("proxy mode: after sign-in gatehouse serves the upstream itself, with the "
                 "X-authentik-* headers", served)

    def forged() -> None:
        entry = from_upstream(browser.get(f"{site}/forged", headers=FORGED), "forged headers")
        expect_identity(entry, alice, world.group["name"], "proxy mode, forged request")

    report.check("proxy mode: forged X-authentik-* headers do not reach the upstream", forged)

    def streamed_post() -> None:
        blocks = [secrets.token_bytes(32 * 1024) for _ in range(48)]
        body = b"".join(blocks)
        response = browser.request("POST", f"{site}/echo-body/upload", data=iter(blocks),
                                   headers={"Content-Type": "application/octet-stream"})
        expect(response.headers.get("X-Echo-Upstream") == "1",
               f"HTTP {response.status_code} not from the upstream: {response.text[:200]}")
        expect_equal(response.status_code, 200, "status")
        expect_equal(response.headers.get("X-Echo-Username"), alice["username"], "username upstream")
        expect_equal(response.headers.get("X-Echo-Length"), str(len(body)), "length upstream got")
        expect_equal(response.headers.get("X-Echo-Sha256"), hashlib.sha256(body).hexdigest(),
                     "sha256 of what the upstream got")
        expect(response.content == body, f"the echoed body differs ({len(response.content)} bytes)")

    report.check("proxy mode: a chunked 1.5 MiB POST reaches the upstream intact and its echo "
                 "comes back intact", streamed_post)

    def websocket() -> None:
        url = f"ws://proxied.test:{world.gh_port}/ws/echo"
        cookie = browser.cookie_header(f"{site}/ws/echo")
        expect(cookie, "no cookie for proxied.test")
        with websocket_connect(url, additional_headers={"Cookie": cookie}, proxy=None,
                               open_timeout=10, close_timeout=5) as conn:
            hello = json.loads(conn.recv(timeout=10))
            expect(hello.get("websocket"), f"first message is not the upstream's: {hello}")
            expect_equal(hello["path"], "/ws/echo", "upgrade path at the upstream")
            expect_identity(hello, alice, world.group["name"], "WebSocket upgrade")
            text = "ping " + secrets.token_hex(8)
            conn.send(text)
            expect_equal(conn.recv(timeout=10), text, "text echo")
            blob = secrets.token_bytes(70_000)
            conn.send(blob)
            expect_equal(conn.recv(timeout=10), blob, "binary echo (70 kB)")

    report.check(f"proxy mode: a WebSocket (websockets {websockets.__version__}) upgrades through "
                 "gatehouse and echoes text and binary", websocket)

    def websocket_anonymous() -> None:
        # The handshake by hand: the websockets client would follow the redirect.
        response = Browser().get(f"{site}/ws/echo", stream=True, headers={
            "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": base64.b64encode(secrets.token_bytes(16)).decode(),
        })
        response.close()
        expect(response.status_code != 101, "a WebSocket without a session was upgraded")
        expect_redirect_to_authorize(world, response, "proxied")

    report.check("proxy mode: a WebSocket without a session is not upgraded", websocket_anonymous)


def sign_out(world: World, report: Report, browser: Browser) -> None:
    app = world.hosts["app"]

    def ends_access() -> None:
        response = browser.get(f"{app}{OUTPOST_PREFIX}/sign_out")
        expect(response.status_code in (200, 302, 303), f"sign_out: HTTP {response.status_code}")
        again = browser.get(f"{app}/after-sign-out")
        expect(again.headers.get("X-Echo-Upstream") != "1", "the app still lets the browser in")
        expect_redirect_to_authorize(world, again, "app")

    report.check("caddy: /outpost.goauthentik.io/sign_out on app.test ends access to the app",
                 ends_access)

    def gatehouse_session_too() -> None:
        again = browser.get(f"{app}/after-sign-out")
        response = browser.follow(again.headers["Location"])
        from_upstream(response, f"signing in again ({browser.trail()})")
        expect(any(c.endswith(("ak-stage-identification", "ak-stage-password"))
                   for c in browser.components),
               f"signed back in without a password, the gatehouse session survived: {browser.trail()}")

    report.check("caddy: sign-out ended the gatehouse session too (the next sign-in asks again)",
                 gatehouse_session_too)

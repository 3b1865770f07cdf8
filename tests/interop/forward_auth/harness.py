"""What the forward-auth script (and benches/forward_auth.py) share: `*.test` names that
resolve to 127.0.0.1, the check report, the REST API client with the bootstrap token, a
browser that signs in through the flow executor API, and the objects a proxy provider
needs (user, group, provider, application, policy binding, outpost assignment, app
password), created in authentik's API shapes.

Hostnames: every name under `.test` resolves to 127.0.0.1 inside this process (a
`socket.getaddrinfo` wrapper), so URLs, Host headers and cookies are the real
`app.test:<port>` ones without /etc/hosts; any other name except loopback ones is
refused, so nothing here can send traffic off the machine.
"""

from __future__ import annotations

import base64
import json
import secrets
import socket
import sys
import traceback
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote, urljoin, urlsplit

import requests

HTTP_TIMEOUT = 15
IMPLICIT_CONSENT = "default-provider-authorization-implicit-consent"
INVALIDATION = "default-provider-invalidation-flow"
EMBEDDED_OUTPOST = "goauthentik.io/outposts/embedded"
OUTPOST_PREFIX = "/outpost.goauthentik.io"

# --- names -----------------------------------------------------------------------------

_HERE = str(Path(__file__).resolve().parent)
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "ip6-localhost"}
_real_getaddrinfo = socket.getaddrinfo


def is_test_host(host: str | None) -> bool:
    host = (host or "").rstrip(".").lower()
    return host.endswith(".test") or host in _LOOPBACK_NAMES or host.startswith("127.")


def _getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002 - socket's names
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and name.rstrip(".").lower().endswith(".test"):
        return _real_getaddrinfo("127.0.0.1", port, socket.AF_INET, type, proto, flags)
    if name is not None and not is_test_host(name):
        raise socket.gaierror(socket.EAI_NONAME, f"{name}: only *.test and loopback names here")
    return _real_getaddrinfo(host, port, family, type, proto, flags)


def resolve_test_names() -> None:
    """Makes `*.test` resolve to 127.0.0.1 in this process (idempotent)."""
    socket.getaddrinfo = _getaddrinfo


# --- the report --------------------------------------------------------------------------


class CheckFailed(Exception):
    pass


class Abort(Exception):
    """A check failed: the rest of its scenario is skipped."""


def expect(condition: Any, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def expect_equal(actual: Any, wanted: Any, what: str) -> None:
    if actual != wanted:
        raise CheckFailed(f"{what}: wanted {wanted!r}, got {actual!r}")


class Report:
    """Named checks. A failure is printed and ends its scenario; the script goes on with
    the next scenario and exits non-zero at the end."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []
        self.skipped: list[str] = []
        self.notes: list[str] = []

    def check(self, name: str, step: Callable[[], Any]) -> Any:
        try:
            result = step()
        except CheckFailed as failure:
            self._fail(name, str(failure))
        except Abort:
            raise
        except Exception as error:  # noqa: BLE001 - any exception is the check's failure
            frames = [f for f in traceback.extract_tb(error.__traceback__)
                      if f.filename.startswith(_HERE)]
            where = f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else "?"
            self._fail(name, f"{where}: {type(error).__name__}: {error}")
        self.passed += 1
        print(f"PASS  {name}", flush=True)
        return result

    def _fail(self, name: str, why: str) -> None:
        self.failed.append(name)
        print(f"FAIL  {name}: {why}", flush=True)
        raise Abort(name)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"NOTE  {text}", flush=True)

    def scenario(self, title: str, body: Callable[[], Any]) -> None:
        print(f"--- {title}", flush=True)
        try:
            body()
        except Abort:
            self.skipped.append(title)
            print(f"SKIP  the rest of '{title}' (after the failure above)", flush=True)

    def summary(self) -> int:
        if self.skipped:
            print(f"scenarios cut short: {'; '.join(self.skipped)}", flush=True)
        print(f"{self.passed} passed, {len(self.failed)} failed", flush=True)
        return 1 if self.failed else 0


# --- the REST API ------------------------------------------------------------------------


class Api:
    """`/api/v3/` with the bootstrap token as a Bearer token (authentik's API auth)."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base.rstrip("/")
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["Accept"] = "application/json"

    def call(self, method: str, path: str, wanted: int, **kwargs: Any) -> Any:
        url = f"{self.base}/api/v3/{path}"
        response = self.session.request(method, url, timeout=HTTP_TIMEOUT, **kwargs)
        if response.status_code != wanted:
            sent = kwargs.get("json")
            raise CheckFailed(
                f"{method} /api/v3/{path}: wanted HTTP {wanted}, got {response.status_code}: "
                f"{response.text[:600]}" + (f" (sent {json.dumps(sent)[:400]})" if sent else "")
            )
        if wanted == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise CheckFailed(f"{method} /api/v3/{path}: not JSON: {response.text[:300]}") from error

    def list_all(self, path: str, **params: Any) -> list[dict]:
        results: list[dict] = []
        page = 1
        while True:
            answer = self.call("GET", path, 200, params={**params, "page": page, "page_size": 100})
            expect(isinstance(answer, dict) and isinstance(answer.get("results"), list),
                   f"GET /api/v3/{path}: no `results` list in {str(answer)[:300]}")
            results.extend(answer["results"])
            following = (answer.get("pagination") or {}).get("next") or 0
            if not following or following == page:
                return results
            page = following


def flow_pk(api: Api, slug: str) -> str:
    flows = [flow for flow in api.list_all("flows/instances/", slug=slug) if flow.get("slug") == slug]
    expect(len(flows) == 1, f"flow {slug!r}: wanted one, found {len(flows)}")
    return flows[0]["pk"]


def create_user(api: Api, username: str, name: str, attributes: dict | None = None) -> dict:
    password = "Fwd-" + secrets.token_urlsafe(16)
    body = {"username": username, "name": name, "email": f"{username}@example.com",
            "is_active": True, "path": "users/interop", "type": "internal",
            "attributes": attributes or {}}
    user = api.call("POST", "core/users/", 201, json=body)
    expect(isinstance(user.get("pk"), int), f"created user has no integer pk: {user}")
    api.call("POST", f"core/users/{user['pk']}/set_password/", 204, json={"password": password})
    return {"pk": user["pk"], "uuid": str(user.get("uuid", "")), "username": username,
            "password": password, "name": name, "email": body["email"], "attributes": body["attributes"]}


def create_group(api: Api, name: str, member_pks: list[int]) -> dict:
    group = api.call("POST", "core/groups/", 201, json={"name": name, "users": member_pks})
    expect(group.get("pk"), f"created group has no pk: {group}")
    return group


def proxy_provider_request(name: str, authorization_flow: str, invalidation_flow: str,
                           external_host: str, mode: str, **settings: Any) -> dict:
    """authentik's `ProxyProviderRequest`, every setting spelled out."""
    request = {
        "name": name,
        "authorization_flow": authorization_flow,
        "invalidation_flow": invalidation_flow,
        "external_host": external_host,
        "mode": mode,
        "internal_host": "",
        "internal_host_ssl_validation": True,
        "cookie_domain": "",
        "skip_path_regex": "",
        "basic_auth_enabled": False,
        "basic_auth_user_attribute": "",
        "basic_auth_password_attribute": "",
        "intercept_header_auth": True,
        "access_token_validity": "hours=1",
    }
    request.update(settings)
    return request


def create_proxy_provider(api: Api, request: dict) -> dict:
    provider = api.call("POST", "providers/proxy/", 201, json=request)
    expect(isinstance(provider.get("pk"), int), f"proxy provider: pk is not an integer: {provider}")
    expect(isinstance(provider.get("client_id"), str) and provider["client_id"],
           f"proxy provider: no client_id in {provider}")
    for key in ("external_host", "mode"):
        expect_equal(provider.get(key), request[key], f"proxy provider {key}")
    return provider


def create_application(api: Api, slug: str, name: str, provider_pk: int) -> dict:
    application = api.call("POST", "core/applications/", 201,
                           json={"name": name, "slug": slug, "provider": provider_pk})
    expect_equal(application.get("provider"), provider_pk, f"application {slug} provider")
    return application


def bind_group(api: Api, application_pk: str, group_pk: str) -> dict:
    return api.call("POST", "policies/bindings/", 201,
                    json={"target": application_pk, "group": group_pk, "order": 0})


def embedded_outpost(api: Api) -> dict:
    outposts = [o for o in api.list_all("outposts/instances/") if o.get("managed") == EMBEDDED_OUTPOST]
    expect(len(outposts) == 1, f"wanted one outpost managed as {EMBEDDED_OUTPOST}, found {len(outposts)}")
    return outposts[0]


def assign_to_embedded_outpost(api: Api, provider_pks: list[int], authentik_host: str) -> dict:
    """Adds the providers to the embedded outpost and points `authentik_host` at the URL
    browsers reach gatehouse at; every other config key is sent back as it was."""
    outpost = embedded_outpost(api)
    expect_equal(outpost.get("type"), "proxy", "embedded outpost type")
    config = dict(outpost.get("config") or {})
    config["authentik_host"] = authentik_host
    providers = sorted(set(outpost.get("providers") or []) | set(provider_pks))
    updated = api.call("PATCH", f"outposts/instances/{outpost['pk']}/", 200,
                       json={"providers": providers, "config": config})
    expect(set(provider_pks) <= set(updated.get("providers") or []),
           f"outpost providers after PATCH: {updated.get('providers')}, wanted {provider_pks} in them")
    expect_equal((updated.get("config") or {}).get("authentik_host"), authentik_host,
                 "outpost config authentik_host after PATCH")
    for key, value in (outpost.get("config") or {}).items():
        if key != "authentik_host":
            expect_equal((updated.get("config") or {}).get(key), value, f"outpost config {key} kept")
    return updated


def app_password(api: Api, user_pk: int, identifier: str) -> str:
    api.call("POST", "core/tokens/", 201, json={
        "identifier": identifier, "intent": "app_password", "user": user_pk,
        "description": "forward-auth interop", "expiring": False,
    })
    key = api.call("GET", f"core/tokens/{identifier}/view_key/", 200).get("key")
    expect(isinstance(key, str) and key, f"view_key gave no key for {identifier}")
    return key


# --- the browser ---------------------------------------------------------------------------


class Denied(Exception):
    """The flow executor answered with an access-denied challenge."""

    def __init__(self, challenge: dict) -> None:
        super().__init__(challenge.get("error_message") or "access denied")
        self.challenge = challenge


class Browser:
    """A user agent with its own cookie jar (domain- and host-scoped as browsers keep
    them). Redirects are followed by hand; a flow page (`/if/flow/<slug>/`) is run through
    the flow executor API on the same host, answering as `user`."""

    def __init__(self, user: dict | None = None) -> None:
        self.user = user
        self.session = requests.Session()
        self.session.trust_env = False
        self.hops: list[str] = []
        self.components: list[str] = []

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        host = urlsplit(url).hostname
        expect(is_test_host(host), f"refusing to send a request off the machine: {url}")
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        kwargs.setdefault("allow_redirects", False)
        return self.session.request(method, url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", url, **kwargs)

    def cookies_for(self, host: str) -> list:
        return [c for c in self.session.cookies
                if c.domain.lstrip(".") == host or host.endswith("." + c.domain.lstrip("."))]

    def cookie_header(self, url: str) -> str:
        prepared = self.session.prepare_request(requests.Request("GET", url))
        return prepared.headers.get("Cookie", "")

    def executor(self, method: str, url: str, body: dict | None = None) -> dict:
        response = self.session.request(method, url, json=body, timeout=HTTP_TIMEOUT,
                                        headers={"Accept": "application/json"})
        expect_equal(response.status_code, 200,
                     f"executor {method} {urlsplit(url).path} ({response.text[:200]})")
        return response.json()

    def run_flow(self, flow_url: str) -> str:
        expect(self.user is not None, f"a sign-in page for a browser with no user: {flow_url}")
        parts = urlsplit(flow_url)
        slug = parts.path.split("/")[3]
        url = (f"{parts.scheme}://{parts.netloc}/api/v3/flows/executor/{slug}/"
               f"?query={quote(parts.query, safe='')}")
        challenge = self.executor("GET", url)
        for _ in range(12):
            component = challenge.get("component")
            self.components.append(f"{slug}:{component}")
            errors = challenge.get("response_errors")
            expect(not errors, f"flow {slug}: {component} answered with errors {errors}")
            if component == "xak-flow-redirect":
                expect(challenge.get("to"), f"flow {slug}: redirect without 'to'")
                return urljoin(flow_url, challenge["to"])
            if component == "ak-stage-access-denied":
                raise Denied(challenge)
            if component == "ak-stage-identification":
                answer = {"component": component, "uid_field": self.user["username"]}
                if challenge.get("password_fields"):
                    answer["password"] = self.user["password"]
            elif component == "ak-stage-password":
                answer = {"component": component, "password": self.user["password"]}
            elif component == "ak-stage-consent":
                answer = {"component": component, "token": challenge.get("token")}
            else:
                raise CheckFailed(f"flow {slug}: unexpected challenge {json.dumps(challenge)[:500]}")
            challenge = self.executor("POST", url, answer)
        raise CheckFailed(f"flow {slug}: no redirect after {self.components}")

    def follow(self, url: str, stop: Callable[[str], bool] | None = None,
               max_hops: int = 25, **kwargs: Any) -> requests.Response | str:
        """GETs `url` and follows redirects, running flows on the way, until an answer
        that is not a redirect (returned), or a URL `stop` accepts (returned unfetched).
        `self.hops` lists what happened, for messages."""
        self.hops = []
        self.components = []
        for _ in range(max_hops):
            if stop is not None and stop(url):
                return url
            parts = urlsplit(url)
            if parts.path.startswith("/if/flow/"):
                self.hops.append(f"flow {parts.path}")
                url = self.run_flow(url)
                continue
            response = self.get(url, **kwargs)
            if response.status_code in (301, 302, 303, 307, 308):
                location = response.headers.get("Location")
                expect(location, f"{parts.path}: {response.status_code} without Location")
                cookies = "+cookie " if "set-cookie" in response.headers else ""
                self.hops.append(f"{response.status_code} {parts.netloc}{parts.path} {cookies}-> {location}")
                url = urljoin(url, location)
                continue
            self.hops.append(f"{response.status_code} {parts.netloc}{parts.path}")
            return response
        raise CheckFailed(f"too many redirects: {self.hops}")

    def trail(self) -> str:
        return " | ".join(self.hops)


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def b64url_json(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def die(message: str) -> None:
    print(f"FAIL  {message}", file=sys.stderr, flush=True)
    sys.exit(1)

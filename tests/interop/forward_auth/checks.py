"""The checks the forward-auth scenarios share: what arrived at the echo upstream, the
redirect to gatehouse's authorize endpoint, a sign-in that went through the flow executor
and the callback, the X-authentik-jwt."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import requests

from harness import OUTPOST_PREFIX, Browser, b64url_json, expect, expect_equal

# Caddy 2.6 (Debian 12's) `copy_headers` sets every listed header, and one the auth answer
# lacks arrives as this unexpanded placeholder text: it means "absent".
CADDY_ABSENT = re.compile(r"^\{http\.reverse_proxy\.header\.[A-Za-z0-9-]+\}$")

FORGED = {
    "X-authentik-username": "mallory",
    "X-authentik-groups": "admins",
    "X-authentik-email": "mallory@example.com",
    "X-authentik-uid": "forged-uid",
}


def from_upstream(response: requests.Response, what: str) -> dict:
    expect(not isinstance(response, str), f"{what}: stopped at {response}")
    expect(response.headers.get("X-Echo-Upstream") == "1",
           f"{what}: HTTP {response.status_code} not from the upstream: {response.text[:300]}")
    expect_equal(response.status_code, 200, f"{what}: upstream status")
    return response.json()


def one_header(entry: dict, name: str, what: str) -> str:
    values = entry["headers"].get(name.lower(), [])
    expect(len(values) == 1, f"{what}: upstream got {name} {len(values)} times: {values}")
    return values[0]


def header_value(entry: dict, name: str) -> str:
    """The header's first value, "" when absent (or Caddy's placeholder for absent)."""
    value = (entry["headers"].get(name.lower()) or [""])[0]
    return "" if CADDY_ABSENT.match(value) else value


def expect_identity(entry: dict, user: dict, group: str, what: str) -> None:
    expect_equal(one_header(entry, "X-authentik-username", what), user["username"], f"{what}: username")
    expect_equal(one_header(entry, "X-authentik-email", what), user["email"], f"{what}: email")
    expect_equal(one_header(entry, "X-authentik-name", what), user["name"], f"{what}: name")
    groups = one_header(entry, "X-authentik-groups", what).split("|")
    expect(group in groups, f"{what}: groups {groups} lack {group!r}")
    expect(one_header(entry, "X-authentik-uid", what), f"{what}: an empty X-authentik-uid")


def expect_redirect_to_authorize(world, response: requests.Response, provider: str) -> dict:
    expect_equal(response.status_code, 302, f"status ({response.text[:200]})")
    location = response.headers.get("Location", "")
    parts = urlsplit(location)
    expect_equal(f"{parts.scheme}://{parts.netloc}{parts.path}",
                 f"{world.auth}/application/o/authorize/", f"redirect target (Location {location})")
    query = parse_qs(parts.query)
    expect_equal(query.get("client_id"), [world.providers[provider]["client_id"]], "client_id")
    callback = f"{world.hosts[provider]}{OUTPOST_PREFIX}/callback?X-authentik-auth-callback=true"
    expect_equal(query.get("redirect_uri"), [callback], "redirect_uri")
    expect(query.get("state") and query["state"][0], "no state")
    return {"location": location, "query": query}


def expect_signed_in_through_executor(browser: Browser, callback_host: str) -> None:
    expect(any(hop.startswith("flow /if/flow/") for hop in browser.hops),
           f"no flow was run: {browser.trail()}")
    expect(any(component.endswith(("ak-stage-identification", "ak-stage-password"))
               for component in browser.components), f"no sign-in stage: {browser.components}")
    callback = f" {urlsplit(callback_host).netloc}{OUTPOST_PREFIX}/callback +cookie "
    expect(any(callback in hop for hop in browser.hops),
           f"no callback on {callback_host} that set a cookie: {browser.trail()}")


def check_jwt(token: str, user: dict, jwks_url: str | None) -> str:
    parts = token.split(".")
    expect(len(parts) == 3, f"X-authentik-jwt is not a JWS compact token: {token[:60]}")
    header, claims = b64url_json(parts[0]), b64url_json(parts[1])
    names = {claims.get("preferred_username"), claims.get("email"), claims.get("sub"),
             claims.get("nickname")}
    expect(user["username"] in names or user["email"] in names,
           f"the JWT does not name {user['username']}: {claims}")
    if header.get("alg", "").startswith(("RS", "ES", "PS")) and jwks_url:
        from joserfc import jwt
        from joserfc.jwk import KeySet

        answer = Browser().get(jwks_url)
        expect_equal(answer.status_code, 200, f"GET {jwks_url}")
        jwt.decode(token, KeySet.import_key_set(answer.json()), algorithms=[header["alg"]])
        return f"{header['alg']}, verified against {jwks_url}"
    return f"{header.get('alg')} (signature not checked)"

#!/usr/bin/env python3
"""gatehouse as an OpenID Provider for Authlib, a second relying party nobody here wrote.

Authlib's `OAuth2Session` (requests integration) runs the authorization code flow with
PKCE S256; the id_token is checked the way Authlib's own OpenID client does it (a
joserfc `KeySet` from the JWKS, then `authlib.oidc.core.CodeIDToken` for iss, aud,
nonce, exp, iat, at_hash), with the issuer and audience made essential. Then userinfo
and a refresh. Three runs:

    rs256  confidential, client_secret_basic   (the Authorization header is checked)
    es256  confidential, client_secret_post    (the secret in the body is checked)
    public no secret, token_endpoint_auth_method none

    authlib_test.py SETUP.json        (SETUP.json from setup_oidc.py)

Prints `PASS  <check>` per check; stops at the first failure with `FAIL  <check>: <why>`
and exit status 1; ends with `N passed, N failed`.
"""

from __future__ import annotations

import base64
import json
import sys
import time
import traceback
import warnings
from typing import Any, Callable
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import authlib
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet

HTTP_TIMEOUT = 15
SCOPE = "openid email profile offline_access"


class CheckFailed(Exception):
    pass


def expect(condition: Any, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def expect_equal(actual: Any, wanted: Any, what: str) -> None:
    if actual != wanted:
        raise CheckFailed(f"{what}: wanted {wanted!r}, got {actual!r}")


class Report:
    def __init__(self) -> None:
        self.passed = 0

    def check(self, name: str, step: Callable[[], Any]) -> Any:
        try:
            result = step()
        except CheckFailed as failure:
            self.fail(name, str(failure))
        except OAuthError as error:
            self.fail(name, f"OAuth error {error.error!r}: {error.description!r}")
        except Exception as error:  # noqa: BLE001 - a library's rejection is the failure
            frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == __file__]
            where = f"line {frames[-1].lineno}" if frames else "?"
            self.fail(name, f"{where}: {type(error).__name__}: {error}")
        self.passed += 1
        print(f"PASS  {name}", flush=True)
        return result

    def fail(self, name: str, why: str) -> None:
        print(f"FAIL  {name}: {why}", flush=True)
        print(f"{self.passed} passed, 1 failed", flush=True)
        sys.exit(1)


class Browser:
    """A user agent: a cookie jar on the server, redirects followed by hand."""

    def __init__(self, base: str, user: dict) -> None:
        self.base = base
        self.user = user
        self.session = requests.Session()
        self.components: list[str] = []
        self.flows: list[str] = []

    def get(self, url: str) -> requests.Response:
        expect(url.startswith(self.base + "/"), f"not sending cookies off-site to {url}")
        return self.session.get(url, allow_redirects=False, timeout=HTTP_TIMEOUT)

    def executor(self, method: str, url: str, body: dict | None = None) -> dict:
        response = self.session.request(method, url, json=body, timeout=HTTP_TIMEOUT,
                                        headers={"Accept": "application/json"})
        expect_equal(response.status_code, 200, f"executor {method} {urlsplit(url).path}")
        return response.json()

    def run_flow(self, slug: str, flow_url: str) -> str:
        query = urlsplit(flow_url).query
        url = f"{self.base}/api/v3/flows/executor/{slug}/?query={quote(query, safe='')}"
        self.flows.append(slug)
        challenge = self.executor("GET", url)
        for _ in range(12):
            component = challenge.get("component")
            self.components.append(component)
            errors = challenge.get("response_errors")
            expect(not errors, f"flow {slug}: {component} answered with errors {errors}")
            if component == "xak-flow-redirect":
                expect(challenge.get("to"), f"flow {slug}: redirect without 'to'")
                return challenge["to"]
            if component == "ak-stage-identification":
                answer = {"component": component, "uid_field": self.user["username"]}
                if challenge.get("password_fields"):
                    answer["password"] = self.user["password"]
            elif component == "ak-stage-password":
                answer = {"component": component, "password": self.user["password"]}
            elif component == "ak-stage-consent":
                expect(isinstance(challenge.get("token"), str), f"flow {slug}: consent without token")
                answer = {"component": component, "token": challenge["token"]}
            else:
                raise CheckFailed(f"flow {slug}: unexpected challenge {json.dumps(challenge)[:500]}")
            challenge = self.executor("POST", url, answer)
        raise CheckFailed(f"flow {slug}: no redirect after {self.components}")

    def follow(self, start: str, stop_at: str) -> str:
        """Follows redirects (and drives flows) until a Location on `stop_at`."""
        url = start
        hops: list[str] = []
        for _ in range(20):
            parts = urlsplit(url)
            if f"{parts.scheme}://{parts.netloc}{parts.path}" == stop_at:
                return url
            if url.startswith(self.base + "/if/flow/"):
                slug = parts.path.split("/")[3]
                url = urljoin(url, self.run_flow(slug, url))
                continue
            response = self.get(url)
            if 300 <= response.status_code < 400:
                location = response.headers.get("Location")
                expect(location, f"{parts.path}: {response.status_code} without Location")
                hops.append(f"{response.status_code} {location}")
                url = urljoin(url, location)
                continue
            raise CheckFailed(
                f"GET {parts.path} answered {response.status_code} instead of redirecting: "
                f"{response.text[:300]}"
            )
        raise CheckFailed(f"too many redirects: {hops}")


def b64url_json(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class Run:
    """One relying party: a client of `setup`, an auth method, a fresh browser."""

    def __init__(self, report: Report, setup: dict, role: str, auth_method: str) -> None:
        self.report = report
        self.base = setup["base"].rstrip("/")
        self.user = setup["user"]
        self.redirect_uri = setup["redirect_uri"]
        self.client = setup["clients"][role]
        self.role = role
        self.auth_method = auth_method
        self.label = f"authlib {role} ({auth_method})"
        self.browser = Browser(self.base, self.user)
        self.token_requests: list[requests.PreparedRequest] = []
        self.metadata: dict = {}
        self.keys: KeySet | None = None

    def session(self) -> OAuth2Session:
        session = OAuth2Session(
            client_id=self.client["client_id"],
            client_secret=self.client["client_secret"] or None,
            token_endpoint_auth_method=self.auth_method,
            scope=SCOPE,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
        )
        session.trust_env = False

        def remember(response: requests.Response, *args: Any, **kwargs: Any) -> None:
            if response.request.url and response.request.url.startswith(
                self.metadata.get("token_endpoint", "\0")
            ):
                self.token_requests.append(response.request)

        session.hooks["response"].append(remember)
        return session

    def check(self, what: str, step: Callable[[], Any]) -> Any:
        return self.report.check(f"{self.label}: {what}", step)

    # --- steps ---------------------------------------------------------------------------

    def discover(self) -> None:
        url = f"{self.client['issuer']}.well-known/openid-configuration"
        response = requests.get(url, timeout=HTTP_TIMEOUT)
        expect_equal(response.status_code, 200, f"GET {url}")
        metadata = response.json()
        expect_equal(metadata.get("issuer"), self.client["issuer"], "issuer")
        expect_equal(metadata.get("token_endpoint"), f"{self.base}/application/o/token/", "token_endpoint")
        methods = metadata.get("token_endpoint_auth_methods_supported", ["client_secret_basic"])
        if self.auth_method != "none":
            expect(self.auth_method in methods, f"token_endpoint_auth_methods_supported {methods}")
        self.metadata = metadata

    def load_keys(self) -> None:
        response = requests.get(self.metadata["jwks_uri"], timeout=HTTP_TIMEOUT)
        expect_equal(response.status_code, 200, "JWKS status")
        self.keys = KeySet.import_key_set(response.json())
        expect(len(self.keys.keys) > 0, "an empty JWKS")

    def log_in(self) -> dict:
        session = self.session()
        verifier = generate_token(48)
        nonce = generate_token(20)
        url, state = session.create_authorization_url(
            self.metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        query = parse_qs(urlsplit(url).query)
        expect_equal(query.get("code_challenge_method"), ["S256"], "code_challenge_method sent")
        callback = self.browser.follow(url, self.redirect_uri)
        params = parse_qs(urlsplit(callback).query)
        expect("error" not in params, f"error on the callback: {callback}")
        expect(params.get("code"), f"no code on the callback: {callback}")
        expect_equal(params.get("state"), [state], "state on the callback")
        return {"session": session, "verifier": verifier, "nonce": nonce, "state": state,
                "callback": callback}

    def fetch_token(self, login: dict) -> dict:
        session: OAuth2Session = login["session"]
        self.token_requests.clear()
        token = session.fetch_token(
            self.metadata["token_endpoint"],
            authorization_response=login["callback"],
            code_verifier=login["verifier"],
            state=login["state"],
        )
        expect(self.token_requests, "no token request was seen")
        self.check_client_auth(self.token_requests[-1])
        expect(token.get("access_token"), f"no access_token in {token}")
        expect_equal(str(token.get("token_type", "")).lower(), "bearer", "token_type")
        expect(isinstance(token.get("expires_in"), int) and token["expires_in"] > 0,
               f"expires_in {token.get('expires_in')!r}")
        expect(token.get("id_token"), "no id_token")
        expect(token.get("refresh_token"), "no refresh_token although offline_access was asked")
        return token

    def check_client_auth(self, request: requests.PreparedRequest) -> None:
        """The token request really used the method under test (RFC 6749 §2.3.1)."""
        body = parse_qs(request.body.decode() if isinstance(request.body, bytes) else request.body or "")
        header = request.headers.get("Authorization", "")
        if self.auth_method == "client_secret_basic":
            expect(header.startswith("Basic "), f"no Basic Authorization header: {header!r}")
            expect("client_secret" not in body, "client_secret also in the body")
        elif self.auth_method == "client_secret_post":
            expect(not header, f"an Authorization header with client_secret_post: {header!r}")
            expect_equal(body.get("client_secret"), [self.client["client_secret"]], "client_secret in body")
            expect_equal(body.get("client_id"), [self.client["client_id"]], "client_id in body")
        else:
            expect(not header and "client_secret" not in body, "a public client sent a secret")
            expect_equal(body.get("client_id"), [self.client["client_id"]], "client_id in body")

    def validate_id_token(self, id_token: str, nonce: str | None, access_token: str) -> dict:
        expect(self.keys is not None, "no JWKS loaded")
        header = b64url_json(id_token.split(".")[0])
        expect_equal(header.get("alg"), self.client["alg"], "id_token alg")
        decoded = jwt.decode(id_token, self.keys, algorithms=[self.client["alg"]])
        options = {
            "iss": {"essential": True, "value": self.client["issuer"]},
            "aud": {"essential": True, "value": self.client["client_id"]},
            "exp": {"essential": True},
            "iat": {"essential": True},
        }
        params = {"client_id": self.client["client_id"], "access_token": access_token}
        if nonce is not None:
            params["nonce"] = nonce
        claims = CodeIDToken(decoded.claims, decoded.header, options, params)
        claims.validate(leeway=60)
        # Belt and braces: the claims that matter, by value.
        expect_equal(claims["iss"], self.client["issuer"], "iss")
        audience = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        expect(self.client["client_id"] in audience, f"aud {claims['aud']!r}")
        if nonce is not None:
            expect_equal(claims.get("nonce"), nonce, "nonce")
        expect(claims["exp"] > time.time(), f"exp {claims['exp']} is past")
        expect(isinstance(claims.get("sub"), str) and claims["sub"], f"sub {claims.get('sub')!r}")
        wanted_sub = {
            "user_uuid": self.user["uuid"],
            "user_username": self.user["username"],
            "user_email": self.user["email"],
        }.get(self.client["sub_mode"])
        if wanted_sub is not None:
            expect_equal(claims["sub"], wanted_sub, f"sub ({self.client['sub_mode']})")
        return dict(claims)

    def userinfo(self, session: OAuth2Session, sub: str) -> None:
        response = session.get(self.metadata["userinfo_endpoint"], timeout=HTTP_TIMEOUT)
        expect_equal(response.status_code, 200, "userinfo status")
        info = response.json()
        expect_equal(info.get("sub"), sub, "userinfo sub (OIDC Core §5.3.2: must match the id_token)")
        expect_equal(info.get("email"), self.user["email"], "userinfo email")
        expect_equal(info.get("preferred_username"), self.user["username"], "userinfo preferred_username")
        expect_equal(info.get("name"), self.user["name"], "userinfo name")

    def refresh(self, session: OAuth2Session, token: dict, original: dict) -> dict:
        sub = original["sub"]
        old = token["refresh_token"]
        self.token_requests.clear()
        refreshed = session.refresh_token(self.metadata["token_endpoint"], refresh_token=old)
        expect(self.token_requests, "no refresh request was seen")
        self.check_client_auth(self.token_requests[-1])
        expect(refreshed.get("access_token") and refreshed["access_token"] != token["access_token"],
               "no new access token")
        expect(refreshed.get("refresh_token") and refreshed["refresh_token"] != old,
               "the refresh token was not rotated")
        if refreshed.get("id_token"):
            claims = self.validate_id_token(refreshed["id_token"], None, refreshed["access_token"])
            # OIDC Core §12.2: the same subject, and the time of the original sign-in.
            expect_equal(claims["sub"], sub, "sub after refresh")
            if "auth_time" in claims:
                expect_equal(claims["auth_time"], original.get("auth_time"), "auth_time after refresh")
            if "nonce" in claims:
                expect_equal(claims["nonce"], original.get("nonce"), "nonce after refresh")
        self.userinfo(session, sub)
        return refreshed

    def old_refresh_refused(self, old: str) -> None:
        session = self.session()
        try:
            session.refresh_token(self.metadata["token_endpoint"], refresh_token=old)
        except OAuthError as error:
            expect_equal(error.error, "invalid_grant", "error on reusing a rotated refresh token")
            return
        raise CheckFailed("a rotated refresh token was accepted again")

    def go(self) -> None:
        self.check("discovery", self.discover)
        self.check("JWKS as a joserfc KeySet", self.load_keys)
        login = self.check("authorization URL with PKCE S256, sign-in, callback with code and state",
                           self.log_in)
        token = self.check(f"fetch_token ({self.auth_method})", lambda: self.fetch_token(login))
        claims = self.check(
            f"id_token ({self.client['alg']}) passes CodeIDToken: iss, aud, nonce, exp, at_hash",
            lambda: self.validate_id_token(token["id_token"], login["nonce"], token["access_token"]),
        )
        self.check("userinfo", lambda: self.userinfo(login["session"], claims["sub"]))
        self.check("refresh_token rotates", lambda: self.refresh(login["session"], token, claims))
        self.check("the old refresh token is refused (invalid_grant)",
                   lambda: self.old_refresh_refused(token["refresh_token"]))


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as handle:
        setup = json.load(handle)
    # authlib.jose is deprecated in favour of joserfc, which this script uses directly.
    warnings.filterwarnings("ignore", module="authlib")
    print(f"authlib {authlib.__version__} against {setup['base']} as {setup['user']['username']}",
          flush=True)
    report = Report()
    Run(report, setup, "rs256", "client_secret_basic").go()
    Run(report, setup, "es256", "client_secret_post").go()
    Run(report, setup, "public", "none").go()
    print(f"{report.passed} passed, 0 failed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

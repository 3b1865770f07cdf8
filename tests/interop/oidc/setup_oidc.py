#!/usr/bin/env python3
"""Creates what the OpenID Connect interop scripts sign in to, through the REST API.

Four OAuth2 providers, each with an application (so each has its own issuer,
`<base>/application/o/<slug>/`), and a normal user to sign in as (not the admin):

    rs256    confidential, default RSA key, implicit consent, claims in the id_token,
             sub = hashed user id
    es256    confidential, the ECDSA P-256 key (ES256), implicit consent, claims only
             from userinfo, sub = the user's uuid
    public   public client (no secret, PKCE), RSA key, sub = the username
    consent  confidential, RSA key, the explicit-consent flow, sub = the email

The requests are authentik's (`OAuth2ProviderRequest`, `ApplicationRequest`,
`UserRequest`) sent with plain `requests` and the bootstrap token as a Bearer token;
the answers are also read with the official `authentik-client` models, and a
disagreement is printed as a WARN (the shapes are the API test's business; here they
only must carry what the OIDC scripts need).

    setup_oidc.py OUT.json

Environment: GATEHOUSE_URL, GATEHOUSE_TOKEN; OIDC_REDIRECT_URI (default
http://127.0.0.1:9/cb: nothing listens there, the scripts read the redirect's
Location instead of following it). Exits non-zero on the first failure.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from typing import Any

import requests

HTTP_TIMEOUT = 10
IMPLICIT_CONSENT = "default-provider-authorization-implicit-consent"
EXPLICIT_CONSENT = "default-provider-authorization-explicit-consent"
INVALIDATION = "default-provider-invalidation-flow"
SCOPES = ("openid", "email", "profile", "offline_access")


class SetupFailed(Exception):
    pass


def passed(what: str) -> None:
    print(f"PASS  setup: {what}", flush=True)


def warn(what: str) -> None:
    print(f"WARN  setup: {what}", flush=True)


class Api:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["Accept"] = "application/json"

    def call(self, method: str, path: str, wanted: int, **kwargs: Any) -> Any:
        url = f"{self.base}/api/v3/{path}"
        try:
            response = self.session.request(method, url, timeout=HTTP_TIMEOUT, **kwargs)
        except requests.RequestException as error:
            raise SetupFailed(f"{method} {url}: {error}") from error
        if response.status_code != wanted:
            raise SetupFailed(
                f"{method} /api/v3/{path}: wanted HTTP {wanted}, got {response.status_code}: "
                f"{response.text[:600]}"
            )
        if wanted == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise SetupFailed(f"{method} /api/v3/{path}: not JSON: {response.text[:300]}") from error

    def list_all(self, path: str, **params: Any) -> list[dict]:
        """Every result of a paginated list (authentik's `pagination` envelope)."""
        results: list[dict] = []
        page = 1
        while True:
            answer = self.call("GET", path, 200, params={**params, "page": page, "page_size": 100})
            if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
                raise SetupFailed(f"GET /api/v3/{path}: no `results` list in {str(answer)[:300]}")
            results.extend(answer["results"])
            following = (answer.get("pagination") or {}).get("next") or 0
            if not following or following == page:
                return results
            page = following


def check_model(model: str, body: dict, what: str) -> None:
    """Reads `body` with the official client's model; a mismatch is only a warning here."""
    try:
        import authentik_client.models as models

        getattr(models, model).from_dict(body)
    except Exception as error:  # noqa: BLE001 - any rejection is reported, not fatal
        first = str(error).splitlines()
        warn(f"{what} does not parse as authentik_client {model}: {' / '.join(first[:4])}")


def flow_pk(api: Api, slug: str) -> str:
    flows = [flow for flow in api.list_all("flows/instances/", slug=slug) if flow.get("slug") == slug]
    if len(flows) != 1:
        raise SetupFailed(f"flow {slug!r}: wanted one, found {len(flows)}")
    pk = flows[0].get("pk")
    if not isinstance(pk, str) or len(pk) != 36:
        raise SetupFailed(f"flow {slug!r}: pk is not a uuid: {pk!r}")
    return pk


def scope_mapping_pks(api: Api) -> list[str]:
    mappings = api.list_all("propertymappings/provider/scope/")
    chosen: list[str] = []
    for scope in SCOPES:
        matching = [m for m in mappings if m.get("scope_name") == scope]
        managed = [m for m in matching if m.get("managed") == f"goauthentik.io/providers/oauth2/scope-{scope}"]
        pick = (managed or matching)[:1]
        if not pick:
            names = sorted({str(m.get("scope_name")) for m in mappings})
            raise SetupFailed(f"no scope mapping for scope {scope!r} (have {names})")
        if not managed:
            warn(f"the mapping for scope {scope!r} is not the managed one")
        check_model("ScopeMapping", pick[0], f"scope mapping {scope}")
        chosen.append(pick[0]["pk"])
    return chosen


def key_pk(api: Api, key_type: str) -> str:
    keys = [
        key
        for key in api.list_all("crypto/certificatekeypairs/", has_key="true")
        if key.get("key_type") == key_type and key.get("private_key_available")
    ]
    if not keys:
        raise SetupFailed(f"no certificate-key pair of key_type {key_type!r} with a private key")
    # The managed default first, so the RS256 provider uses what authentik would.
    keys.sort(key=lambda key: (not key.get("managed"), str(key.get("name"))))
    return keys[0]["pk"]


def create_user(api: Api, suffix: str) -> dict:
    username = f"oidc-{suffix}"
    password = "Oidc-" + secrets.token_urlsafe(16)
    request = {
        "username": username,
        "name": "Olivia Dee Connect",
        "email": f"{username}@example.com",
        "is_active": True,
        "path": "users/interop",
        "type": "internal",
    }
    user = api.call("POST", "core/users/", 201, json=request)
    check_model("User", user, "created user")
    for key in ("pk", "uuid"):
        if key not in user:
            raise SetupFailed(f"created user lacks {key!r}: {user}")
    if user.get("username") != username:
        raise SetupFailed(f"created user has username {user.get('username')!r}, wanted {username!r}")
    api.call("POST", f"core/users/{user['pk']}/set_password/", 204, json={"password": password})
    passed(f"user {username} (pk {user['pk']}) with a password")
    return {
        "pk": user["pk"],
        "uuid": str(user["uuid"]),
        "username": username,
        "password": password,
        "name": request["name"],
        "email": request["email"],
    }


def create_provider(api: Api, name: str, fields: dict) -> dict:
    request = {"name": name, **fields}
    provider = api.call("POST", "providers/oauth2/", 201, json=request)
    check_model("OAuth2Provider", provider, f"provider {name}")
    pk = provider.get("pk")
    if not isinstance(pk, int):
        raise SetupFailed(f"provider {name}: pk is not an integer: {pk!r}")
    client_id = provider.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise SetupFailed(f"provider {name}: no client_id in {provider}")
    secret = provider.get("client_secret")
    if request["client_type"] == "confidential" and not secret:
        raise SetupFailed(f"provider {name}: a confidential client got no client_secret")
    for key in ("client_type", "sub_mode", "include_claims_in_id_token", "signing_key"):
        if key in request and str(provider.get(key)) != str(request[key]):
            raise SetupFailed(f"provider {name}: {key} is {provider.get(key)!r}, sent {request[key]!r}")
    sent = [uri["url"] for uri in request["redirect_uris"]]
    got = [uri.get("url") for uri in provider.get("redirect_uris") or []]
    if got != sent:
        raise SetupFailed(f"provider {name}: redirect_uris {got}, sent {sent}")
    fetched = api.call("GET", f"providers/oauth2/{pk}/", 200)
    if fetched.get("client_id") != client_id:
        raise SetupFailed(f"provider {name}: retrieve gives client_id {fetched.get('client_id')!r}")
    return provider


def create_application(api: Api, slug: str, provider_pk: int) -> dict:
    request = {"name": f"OIDC interop {slug}", "slug": slug, "provider": provider_pk}
    application = api.call("POST", "core/applications/", 201, json=request)
    check_model("Application", application, f"application {slug}")
    if application.get("slug") != slug or application.get("provider") != provider_pk:
        raise SetupFailed(f"application {slug}: answer {application}")
    return application


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    base = os.environ.get("GATEHOUSE_URL", "").rstrip("/")
    token = os.environ.get("GATEHOUSE_TOKEN", "")
    if not (base and token):
        print("set GATEHOUSE_URL and GATEHOUSE_TOKEN", file=sys.stderr)
        return 2
    redirect_uri = os.environ.get("OIDC_REDIRECT_URI", "http://127.0.0.1:9/cb")
    suffix = secrets.token_hex(3)
    api = Api(base, token)
    try:
        implicit = flow_pk(api, IMPLICIT_CONSENT)
        explicit = flow_pk(api, EXPLICIT_CONSENT)
        invalidation = flow_pk(api, INVALIDATION)
        passed("authorization and invalidation flows found by slug")
        mappings = scope_mapping_pks(api)
        passed(f"scope mappings for {', '.join(SCOPES)}")
        rsa = key_pk(api, "rsa")
        ecdsa = key_pk(api, "ecdsa")
        passed("an RSA and an ECDSA signing key")
        user = create_user(api, suffix)

        common = {
            "invalidation_flow": invalidation,
            "redirect_uris": [{"matching_mode": "strict", "url": redirect_uri}],
            "property_mappings": mappings,
        }
        plans = {
            "rs256": ({**common, "authorization_flow": implicit, "client_type": "confidential",
                       "signing_key": rsa, "sub_mode": "hashed_user_id",
                       "include_claims_in_id_token": True}, "RS256"),
            "es256": ({**common, "authorization_flow": implicit, "client_type": "confidential",
                       "signing_key": ecdsa, "sub_mode": "user_uuid",
                       "include_claims_in_id_token": False}, "ES256"),
            "public": ({**common, "authorization_flow": implicit, "client_type": "public",
                        "signing_key": rsa, "sub_mode": "user_username",
                        "include_claims_in_id_token": True}, "RS256"),
            "consent": ({**common, "authorization_flow": explicit, "client_type": "confidential",
                         "signing_key": rsa, "sub_mode": "user_email",
                         "include_claims_in_id_token": True}, "RS256"),
        }
        clients: dict[str, dict] = {}
        for role, (fields, alg) in plans.items():
            slug = f"oidc-{role}-{suffix}"
            provider = create_provider(api, f"OIDC interop {role} {suffix}", fields)
            create_application(api, slug, provider["pk"])
            clients[role] = {
                "slug": slug,
                "issuer": f"{base}/application/o/{slug}/",
                "provider_pk": provider["pk"],
                "client_id": provider["client_id"],
                "client_secret": provider.get("client_secret") or "",
                "client_type": fields["client_type"],
                "alg": alg,
                "sub_mode": fields["sub_mode"],
                "include_claims_in_id_token": fields["include_claims_in_id_token"],
                "authorization_flow": IMPLICIT_CONSENT if fields["authorization_flow"] == implicit
                else EXPLICIT_CONSENT,
            }
            passed(f"provider {provider['pk']} ({fields['client_type']}, {alg}) and application {slug}")
    except SetupFailed as failure:
        print(f"FAIL  setup: {failure}", flush=True)
        return 1
    with open(out, "w", encoding="utf-8") as handle:
        json.dump({"base": base, "redirect_uri": redirect_uri, "user": user, "clients": clients},
                  handle, indent=2)
    passed(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""gatehouse as a SAML identity provider for pysaml2, a service provider nobody here wrote.

pysaml2's `Saml2Client` is configured from gatehouse's metadata URL (it fetches and
parses it, and takes the IdP's signing certificate from it) and checks every Response
the way an SP does: the signature with xmlsec1 (`want_assertions_signed`,
`want_response_signed`), InResponseTo against its outstanding requests, the audience,
the Destination/Recipient and the NotBefore/NotOnOrAfter conditions. A `requests`
session plays the browser and signs in through gatehouse's flow executor JSON API.

Runs: SP-initiated sign-in through the Redirect binding (then reading NameID and
attributes), through the POST binding, with AuthnRequests the SP signs (redirect query
signature, gatehouse has the SP's certificate), with a signed Response; IdP-initiated
sign-in (unsolicited); an assertion encrypted for the SP's certificate (AES-256-GCM,
RSA-OAEP) that pysaml2 decrypts; a request for another ACS refused; SP-initiated logout (the
LogoutResponse parsed by pysaml2 and the session gone).

    pysaml2_test.py      (GATEHOUSE_URL and GATEHOUSE_TOKEN from tests/interop/run.sh)

Prints `PASS  <check>` per check; stops at the first failure with `FAIL  <check>: <why>`
and exit status 1.
"""

from __future__ import annotations

import base64
import datetime
import html
import logging
import os
import re
import secrets
import shutil
import sys
import tempfile
import traceback
from typing import Any, Callable
from urllib.parse import parse_qs, quote, urlsplit

import requests
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, saml
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID

BASE = os.environ.get("GATEHOUSE_URL", "http://127.0.0.1:9000").rstrip("/")
TOKEN = os.environ.get("GATEHOUSE_TOKEN", "")
HTTP_TIMEOUT = 15
XMLSEC = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"
LOGIN_FLOW = "default-authentication-flow"
AUTHZ_FLOW = "default-provider-authorization-implicit-consent"


class CheckFailed(Exception):
    pass


def expect(condition: Any, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


class Report:
    def __init__(self) -> None:
        self.passed = 0

    def check(self, name: str, step: Callable[[], Any]) -> Any:
        try:
            result = step()
        except CheckFailed as failure:
            self.fail(name, str(failure))
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


# --- gatehouse's admin API ------------------------------------------------------------

def api(method: str, path: str, wanted: int, **kwargs: Any) -> Any:
    response = requests.request(
        method,
        f"{BASE}/api/v3/{path}",
        headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"},
        timeout=HTTP_TIMEOUT,
        **kwargs,
    )
    if response.status_code != wanted:
        raise CheckFailed(f"{method} /api/v3/{path}: HTTP {response.status_code}: {response.text[:500]}")
    return response.json() if response.content else None


def pk_of(path: str, **match: Any) -> Any:
    results = api("GET", path, 200, params={"page_size": 100})["results"]
    for item in results:
        if all(item.get(key) == value for key, value in match.items()):
            return item["pk"]
    raise CheckFailed(f"nothing in {path} with {match}")


def create_user() -> dict:
    username = f"saml-{secrets.token_hex(3)}"
    password = "Saml-" + secrets.token_urlsafe(16)
    user = api(
        "POST",
        "core/users/",
        201,
        json={"username": username, "name": "Sam L. Person", "email": f"{username}@example.com"},
    )
    api("POST", f"core/users/{user['pk']}/set_password/", 204, json={"password": password})
    return {"username": username, "password": password, "email": f"{username}@example.com"}


def create_saml_app(slug: str, sp_entity: str, acs: str, extra: dict) -> dict:
    provider = api(
        "POST",
        "providers/saml/",
        201,
        json={
            "name": f"pysaml2 {slug}",
            "authorization_flow": pk_of("flows/instances/", slug=AUTHZ_FLOW),
            "acs_url": acs,
            "audience": sp_entity,
            "signing_kp": pk_of("crypto/certificatekeypairs/", managed="goauthentik.io/crypto/self-signed"),
            **extra,
        },
    )
    api("POST", "core/applications/", 201, json={"name": f"pysaml2 {slug}", "slug": slug, "provider": provider["pk"]})
    # authentik's own API client reads the answer as its SAMLProvider model.
    from authentik_client.models import SAMLProvider

    parsed = SAMLProvider.from_dict(api("GET", f"providers/saml/{provider['pk']}/", 200))
    expect(parsed.acs_url == acs and parsed.audience == sp_entity, f"authentik_client reads {parsed}")
    return provider


# --- the browser ----------------------------------------------------------------------

class Browser:
    """A cookie jar that follows gatehouse's redirects and signs in through the flow
    executor JSON API when sent to a flow page."""

    def __init__(self, user: dict) -> None:
        self.user = user
        self.http = requests.Session()
        self.flows_run: list[str] = []

    def run_flow(self, slug: str, query: str) -> str:
        self.flows_run.append(slug)
        url = f"{BASE}/api/v3/flows/executor/{slug}/?query={quote(query, safe='')}"
        challenge = self.http.get(url, timeout=HTTP_TIMEOUT).json()
        for _ in range(10):
            component = challenge.get("component")
            if component == "xak-flow-redirect":
                return challenge["to"]
            if component == "ak-stage-identification":
                answer = {"component": component, "uid_field": self.user["username"]}
                if challenge.get("password_fields"):
                    answer["password"] = self.user["password"]
            elif component == "ak-stage-password":
                answer = {"component": component, "password": self.user["password"]}
            else:
                raise CheckFailed(f"flow {slug}: unexpected challenge {challenge}")
            challenge = self.http.post(url, json=answer, timeout=HTTP_TIMEOUT).json()
        raise CheckFailed(f"flow {slug} did not finish")

    def go(self, url: str, method: str = "GET", data: dict | None = None) -> requests.Response:
        """Follows redirects within gatehouse (running flows); returns the first answer
        that is not a redirect to gatehouse itself."""
        for _ in range(15):
            if url.startswith("/"):
                url = BASE + url
            path = url[len(BASE):] if url.startswith(BASE) else None
            if path is not None and path.startswith("/if/flow/"):
                slug, _, rest = path[len("/if/flow/"):].partition("/")
                url = self.run_flow(slug, rest.lstrip("?"))
                method, data = "GET", None
                continue
            response = self.http.request(method, url, data=data, allow_redirects=False, timeout=HTTP_TIMEOUT)
            location = response.headers.get("Location")
            if response.status_code in (301, 302, 303) and location and (location.startswith("/") or location.startswith(BASE)):
                url, method, data = location, "GET", None
                continue
            return response
        raise CheckFailed(f"too many redirects from {url}")


def read_form(page: requests.Response) -> tuple[str, dict]:
    expect(page.status_code == 200, f"wanted the POST-binding page, got HTTP {page.status_code}: {page.text[:300]}")
    action = re.search(r'<form[^>]*action="([^"]+)"', page.text)
    expect(action, f"no form in {page.text[:300]}")
    fields = {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text)
    }
    expect("button" in page.text and "submit" in page.text, "the page has a visible submit button")
    return html.unescape(action.group(1)), fields


# --- the service provider -------------------------------------------------------------

def make_certificate(directory: str) -> tuple[str, str, str]:
    """A key and self-signed certificate for the SP (for signing its requests)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pysaml2 SP")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_path = os.path.join(directory, "sp.key")
    cert_path = os.path.join(directory, "sp.crt")
    with open(key_path, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    with open(cert_path, "wb") as out:
        out.write(pem)
    return key_path, cert_path, pem.decode()


def sp_client(slug: str, entity: str, acs: str, sls: str, want_response_signed: bool = False,
              key_files: tuple[str, str] | None = None) -> Saml2Client:
    sp: dict = {
        "endpoints": {
            "assertion_consumer_service": [(acs, BINDING_HTTP_POST)],
            "single_logout_service": [(sls, BINDING_HTTP_REDIRECT)],
        },
        "want_assertions_signed": True,
        "want_response_signed": want_response_signed,
        "allow_unsolicited": True,
        "authn_requests_signed": key_files is not None,
        "logout_requests_signed": key_files is not None,
        "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
    }
    config: dict = {
        "entityid": entity,
        "service": {"sp": sp},
        # Configured from gatehouse's metadata URL, as a user would.
        "metadata": {"remote": [{"url": f"{BASE}/application/saml/{slug}/metadata/"}]},
        "xmlsec_binary": XMLSEC,
        "allow_unknown_attributes": True,
        "accepted_time_diff": 10,
    }
    if key_files:
        config["key_file"], config["cert_file"] = key_files
        # The same pair decrypts assertions gatehouse encrypts for this SP.
        config["encryption_keypairs"] = [{"key_file": key_files[0], "cert_file": key_files[1]}]
        sp["signing_algorithm"] = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
        sp["digest_algorithm"] = "http://www.w3.org/2001/04/xmlenc#sha256"
    conf = SPConfig()
    conf.load(config)
    return Saml2Client(config=conf)


def idp_entity(slug: str) -> str:
    return f"{BASE}/application/saml/{slug}/metadata/"


def check_response(client: Saml2Client, form: tuple[str, dict], acs: str, outstanding: dict,
                   user: dict, relay_state: str | None) -> Any:
    action, fields = form
    expect(action == acs, f"the form posts to {action}, not the ACS {acs}")
    expect(fields.get("RelayState") == relay_state, f"RelayState {fields.get('RelayState')!r}, wanted {relay_state!r}")
    # pysaml2 verifies the signature(s) with xmlsec1, InResponseTo, audience, recipient
    # and the validity window here, and raises on any failure.
    response = client.parse_authn_request_response(fields["SAMLResponse"], BINDING_HTTP_POST, outstanding)
    expect(response is not None, "pysaml2 accepted no response")
    expect(response.assertion.signature is not None or response.response.signature is not None, "signed")
    attributes = response.get_identity()
    expect(attributes.get("http://schemas.goauthentik.io/2021/02/saml/username") == [user["username"]],
           f"username attribute: {attributes}")
    expect(attributes.get("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress") == [user["email"]],
           f"email attribute: {attributes}")
    conditions = response.assertion.conditions
    expect(conditions.not_before and conditions.not_on_or_after, "the assertion has a validity window")
    audiences = [a.text for r in conditions.audience_restriction for a in r.audience]
    expect(audiences == [client.config.entityid], f"audience {audiences}")
    return response


def main() -> int:
    if not TOKEN:
        print("FAIL  setup: GATEHOUSE_TOKEN is not set", flush=True)
        return 1
    report = Report()
    workdir = tempfile.mkdtemp(prefix="pysaml2-interop-")
    user = report.check("setup: a user with a password", create_user)
    run = secrets.token_hex(3)
    slug = f"pysaml2-{run}"
    signed_slug = f"pysaml2-signed-{run}"
    entity = "http://sp.pysaml2.test/metadata"
    acs = "http://sp.pysaml2.test/acs"
    sls = "http://sp.pysaml2.test/sls"
    report.check("setup: SAML provider and application through /api/v3/providers/saml/",
                 lambda: create_saml_app(slug, entity, acs, {"sls_url": sls, "sls_binding": "redirect"}))
    client = report.check("pysaml2 reads the IdP metadata from the metadata URL",
                          lambda: sp_client(slug, entity, acs, sls))
    browser = Browser(user)

    def redirect_login() -> Any:
        request_id, info = client.prepare_for_authenticate(
            entityid=idp_entity(slug), relay_state="/after/redirect", binding=BINDING_HTTP_REDIRECT,
            nameid_format=NAMEID_FORMAT_EMAILADDRESS)
        location = dict(info["headers"])["Location"]
        expect(location.startswith(f"{BASE}/application/saml/{slug}/sso/binding/redirect/"), location)
        page = browser.go(location)
        expect(LOGIN_FLOW in browser.flows_run, f"signed in through the flow: {browser.flows_run}")
        form = read_form(page)
        # A changed attribute breaks the signature: pysaml2 must refuse it.
        xml = base64.b64decode(form[1]["SAMLResponse"]).decode()
        expect(user["username"] + "<" in xml, "the username is in the response")
        forged = base64.b64encode(xml.replace(user["username"] + "<", "mallory<").encode()).decode()
        # (pysaml2 logs xmlsec1's "FAIL" output on refusal; keep it out of this report)
        logging.disable(logging.CRITICAL)
        try:
            client.parse_authn_request_response(forged, BINDING_HTTP_POST, {request_id: "/"})
        except Exception:  # noqa: BLE001 - any refusal will do
            pass
        else:
            raise CheckFailed("pysaml2 accepted a response whose signed assertion was changed")
        finally:
            logging.disable(logging.NOTSET)
        response = check_response(client, form, acs, {request_id: "/"}, user, "/after/redirect")
        name_id = response.assertion.subject.name_id
        expect(name_id.format == NAMEID_FORMAT_EMAILADDRESS and name_id.text == user["email"],
               f"NameID {name_id.format} {name_id.text}")
        return response

    login = report.check("SP-initiated sign-in, Redirect binding: signed assertion, conditions, attributes", redirect_login)

    def post_login() -> None:
        request_id, request = client.create_authn_request(
            f"{BASE}/application/saml/{slug}/sso/binding/post/", binding=BINDING_HTTP_POST)
        message = base64.b64encode(str(request).encode()).decode()
        page = browser.go(f"{BASE}/application/saml/{slug}/sso/binding/post/", "POST",
                          {"SAMLRequest": message, "RelayState": "post-state"})
        check_response(client, read_form(page), acs, {request_id: "/"}, user, "post-state")

    report.check("SP-initiated sign-in, POST binding (session kept): accepted by pysaml2", post_login)

    def replayed() -> None:
        request_id, info = client.prepare_for_authenticate(entityid=idp_entity(slug), binding=BINDING_HTTP_REDIRECT)
        location = dict(info["headers"])["Location"]
        read_form(browser.go(location))
        again = browser.go(location)
        expect(again.status_code == 400 and "already used" in again.text, f"replay: HTTP {again.status_code}")

    report.check("a replayed AuthnRequest is refused", replayed)

    def unsolicited() -> None:
        page = browser.go(f"{BASE}/application/saml/{slug}/sso/binding/init/")
        check_response(client, read_form(page), acs, {}, user, None)

    report.check("IdP-initiated sign-in: pysaml2 accepts the unsolicited response", unsolicited)

    # A second SP that signs its requests and wants the Response signed too.
    def signed_setup() -> Saml2Client:
        key_path, cert_path, pem = make_certificate(workdir)
        certificate = api("POST", "crypto/certificatekeypairs/", 201,
                          json={"name": f"pysaml2 SP signing {run}", "certificate_data": pem})
        create_saml_app(signed_slug, "http://signed.pysaml2.test/metadata", "http://signed.pysaml2.test/acs",
                        {"verification_kp": certificate["pk"], "encryption_kp": certificate["pk"],
                         "sign_response": True})
        return sp_client(signed_slug, "http://signed.pysaml2.test/metadata", "http://signed.pysaml2.test/acs",
                         "http://signed.pysaml2.test/sls", want_response_signed=True, key_files=(key_path, cert_path))

    signed_client = report.check("setup: an SP with its own key, gatehouse holding its certificate", signed_setup)

    def signed_login() -> None:
        request_id, info = signed_client.prepare_for_authenticate(
            entityid=idp_entity(signed_slug), relay_state="signed", binding=BINDING_HTTP_REDIRECT,
            sign=True, sigalg="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
        location = dict(info["headers"])["Location"]
        expect("Signature=" in location, "pysaml2 signed the redirect query")
        page = browser.go(location)
        sent = base64.b64decode(read_form(page)[1]["SAMLResponse"]).decode()
        expect("EncryptedAssertion" in sent and user["username"] not in sent, "the assertion travels encrypted")
        check_response(signed_client, read_form(page), "http://signed.pysaml2.test/acs",
                       {request_id: "/"}, user, "signed")
        # The same request without its signature is refused with a page.
        unsigned = re.sub(r"&(SigAlg|Signature)=[^&]*", "", location)
        refused = browser.go(unsigned)
        expect(refused.status_code == 400 and "signed" in refused.text, f"unsigned: HTTP {refused.status_code}")

    report.check("signed AuthnRequest (pysaml2's redirect signature) accepted, unsigned refused; signed Response, encrypted assertion decrypted by pysaml2", signed_login)

    def foreign_acs() -> None:
        request_id, request = client.create_authn_request(
            f"{BASE}/application/saml/{slug}/sso/binding/post/", binding=BINDING_HTTP_POST,
            assertion_consumer_service_url="http://evil.example/acs")
        message = base64.b64encode(str(request).encode()).decode()
        page = browser.go(f"{BASE}/application/saml/{slug}/sso/binding/post/", "POST", {"SAMLRequest": message})
        expect(page.status_code == 400 and "SAMLResponse" not in page.text, f"HTTP {page.status_code}")

    report.check("an AuthnRequest for another ACS URL gets an error page, no response", foreign_acs)

    def logout() -> None:
        name_id = login.assertion.subject.name_id
        session_index = login.assertion.authn_statement[0].session_index
        request_id, request = client.create_logout_request(
            f"{BASE}/application/saml/{slug}/slo/binding/redirect/", idp_entity(slug),
            name_id=NameID(format=name_id.format, text=name_id.text), session_indexes=[session_index])
        info = client.apply_binding(BINDING_HTTP_REDIRECT, str(request),
                                    f"{BASE}/application/saml/{slug}/slo/binding/redirect/", "bye")
        location = dict(info["headers"])["Location"]
        answer = browser.http.get(location, allow_redirects=False, timeout=HTTP_TIMEOUT)
        expect(answer.status_code == 302, f"logout: HTTP {answer.status_code}: {answer.text[:300]}")
        back = answer.headers["Location"]
        expect(back.startswith(sls + "?"), f"sent to {back}")
        query = parse_qs(urlsplit(back).query)
        expect(query.get("RelayState") == ["bye"], f"RelayState {query.get('RelayState')}")
        response = client.parse_logout_request_response(query["SAMLResponse"][0], BINDING_HTTP_REDIRECT)
        expect(response is not None and response.status_ok(), "pysaml2 reads a successful LogoutResponse")
        expect(response.response.in_response_to == request_id, "InResponseTo the logout request")
        me = browser.http.get(f"{BASE}/api/v3/core/users/me/", timeout=HTTP_TIMEOUT)
        expect(me.status_code in (401, 403), f"still signed in: HTTP {me.status_code}")

    report.check("SP-initiated logout (Redirect): session ended, LogoutResponse accepted by pysaml2", logout)

    shutil.rmtree(workdir, ignore_errors=True)
    print(f"{report.passed} passed, 0 failed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The LDAP provider as legacy apps meet it: OpenLDAP's `ldapwhoami` and `ldapsearch`
(Debian ldap-utils) and Python's `ldap3`, against gatehouse's listener.

Sets up through the REST API: an LDAP provider (default base DN) with an application
whose access is bound to the group "ldap-users", assigned to the embedded outpost;
1,000 users `userNNNN` (the first 20 in "ldap-users", 50 groups of 20 members), a
search group, a non-member, and a service account that binds with an app password.
Then checks binds (DN and bare name), WhoAmI, the root DSE, a paged subtree search of
every user, memberOf filters, group member lists, a non-member refused, wrong
passwords refused, writes refused. Last, user0005 enrolls an authenticator app through
the flow executor (the secret from its otpauth URI, codes from Debian's `oathtool`) and
`ldapwhoami` binds with `password;<code>`: refused without the code, with a wrong one
and with a replayed one.

Environment: GATEHOUSE_URL, GATEHOUSE_TOKEN, GATEHOUSE_LDAP and GATEHOUSE_LDAPS
(host:port), GATEHOUSE_TLS_CERT (the certificate gatehouse generated: clients verify
against it, names included).
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlparse

import requests
from ldap3 import ALL, Connection, Server, SUBTREE
from ldap3.core.exceptions import LDAPException

BASE = "DC=ldap,DC=goauthentik,DC=io"
URL = os.environ["GATEHOUSE_URL"].rstrip("/")
TOKEN = os.environ["GATEHOUSE_TOKEN"]
HOST, PORT = os.environ["GATEHOUSE_LDAP"].rsplit(":", 1)
USERS = 1000
GROUPS = 50
PASSWORD = "Ldap-interop-pw-42"

api = requests.Session()
api.headers["Authorization"] = f"Bearer {TOKEN}"
failures: list[str] = []
passes = 0


def check(name: str, condition: bool, detail: str = "") -> None:
    global passes
    if condition:
        passes += 1
        print(f"PASS  {name}")
    else:
        failures.append(name)
        print(f"FAIL  {name} {detail}")


def post(path: str, body: dict) -> dict:
    response = api.post(f"{URL}/api/v3/{path}", json=body, timeout=30)
    if response.status_code >= 300:
        raise SystemExit(f"POST {path}: {response.status_code} {response.text[:300]}")
    return response.json() if response.text else {}


def setup() -> None:
    flows = api.get(f"{URL}/api/v3/flows/instances/?slug=default-authentication-flow", timeout=10).json()
    flow = next(f["pk"] for f in flows["results"] if f["slug"] == "default-authentication-flow")
    users_group = post("core/groups/", {"name": "ldap-users"})
    search_group = post("core/groups/", {"name": "ldap-search"})
    provider = post("providers/ldap/", {"name": "Directory", "authorization_flow": flow,
                                        "search_group": search_group["pk"]})
    os.environ["PROVIDER_PK"] = str(provider["pk"])
    app = post("core/applications/", {"name": "Directory", "slug": "directory", "provider": provider["pk"]})
    post("policies/bindings/", {"target": app["pk"], "group": users_group["pk"], "order": 0})
    outpost = api.get(f"{URL}/api/v3/outposts/instances/", timeout=10).json()["results"][0]
    response = api.patch(f"{URL}/api/v3/outposts/instances/{outpost['pk']}/",
                         json={"providers": [provider["pk"]]}, timeout=10)
    response.raise_for_status()
    groups = [post("core/groups/", {"name": f"group{g:02d}"}) for g in range(GROUPS)]
    for n in range(USERS):
        user = post("core/users/", {"username": f"user{n:04d}", "name": f"User {n:04d}",
                                    "email": f"user{n:04d}@example.com",
                                    "attributes": {"department": "lab"} if n == 7 else {}})
        group = groups[n % GROUPS]
        post(f"core/groups/{group['pk']}/add_user/", {"pk": user["pk"]})
        if n < 20:
            post(f"core/groups/{users_group['pk']}/add_user/", {"pk": user["pk"]})
            post(f"core/users/{user['pk']}/set_password/", {"password": PASSWORD})
        if n == 0:
            post(f"core/groups/{search_group['pk']}/add_user/", {"pk": user["pk"]})
    outsider = post("core/users/", {"username": "outsider", "name": "Out Sider"})
    post(f"core/users/{outsider['pk']}/set_password/", {"password": PASSWORD})
    robot = post("core/users/", {"username": "ldap-robot", "name": "LDAP robot", "type": "service_account"})
    post(f"core/groups/{users_group['pk']}/add_user/", {"pk": robot["pk"]})
    post(f"core/groups/{search_group['pk']}/add_user/", {"pk": robot["pk"]})
    post("core/tokens/", {"identifier": "ldap-robot-key", "intent": "app_password", "user": robot["pk"]})
    key = api.get(f"{URL}/api/v3/core/tokens/ldap-robot-key/view_key/", timeout=10).json()["key"]
    os.environ["ROBOT_KEY"] = key


def dn(username: str) -> str:
    return f"cn={username},ou=users,{BASE}"


def openldap_tools() -> None:
    uri = f"ldap://{HOST}:{PORT}"
    who = subprocess.run(["ldapwhoami", "-x", "-H", uri, "-D", dn("user0000"), "-w", PASSWORD],
                         capture_output=True, text=True, timeout=30)
    check("ldapwhoami: bind by DN and WhoAmI", who.returncode == 0 and who.stdout.strip() == f"dn:{dn('user0000')}",
          who.stdout + who.stderr)
    wrong = subprocess.run(["ldapwhoami", "-x", "-H", uri, "-D", dn("user0000"), "-w", "wrong"],
                           capture_output=True, text=True, timeout=30)
    check("ldapwhoami: a wrong password is invalidCredentials (49)", wrong.returncode == 49, wrong.stderr)
    search = subprocess.run(["ldapsearch", "-x", "-LLL", "-H", uri, "-D", dn("user0000"), "-w", PASSWORD,
                             "-b", BASE, "(&(objectClass=user)(uid=user0042))", "mail", "uidNumber", "memberOf"],
                            capture_output=True, text=True, timeout=30)
    check("ldapsearch: equality on uid", search.returncode == 0 and "mail: user0042@example.com" in search.stdout
          and f"memberOf: cn=group42,ou=groups,{BASE}" in search.stdout, search.stdout + search.stderr)
    paged = subprocess.run(["ldapsearch", "-x", "-LLL", "-H", uri, "-D", dn("user0000"), "-w", PASSWORD,
                            "-b", f"ou=users,{BASE}", "-s", "one", "-E", "pr=100/noprompt", "(cn=user0*)", "1.1"],
                           capture_output=True, text=True, timeout=60)
    count = paged.stdout.count("dn: cn=")
    # Only this script's users: the other interop scripts add their own before it runs.
    check("ldapsearch: paged (pr=100) one-level search of all users", paged.returncode == 0 and count == USERS,
          f"{count} entries; {paged.stderr}")
    tls_env = {**os.environ, "LDAPTLS_CACERT": os.environ["GATEHOUSE_TLS_CERT"], "LDAPTLS_REQCERT": "demand"}
    starttls = subprocess.run(["ldapwhoami", "-x", "-ZZ", "-H", uri, "-D", dn("user0001"), "-w", PASSWORD],
                              capture_output=True, text=True, timeout=30, env=tls_env)
    check("ldapwhoami -ZZ: StartTLS with the generated certificate verified",
          starttls.returncode == 0 and starttls.stdout.strip() == f"dn:{dn('user0001')}", starttls.stderr)
    ldaps = subprocess.run(["ldapsearch", "-x", "-LLL", "-H", f"ldaps://{os.environ['GATEHOUSE_LDAPS']}",
                            "-D", dn("user0000"), "-w", PASSWORD, "-b", BASE, "(uid=user0002)", "cn"],
                           capture_output=True, text=True, timeout=30, env=tls_env)
    check("ldapsearch over LDAPS with the certificate verified",
          ldaps.returncode == 0 and "cn: user0002" in ldaps.stdout, ldaps.stderr)
    root = subprocess.run(["ldapsearch", "-x", "-LLL", "-H", uri, "-s", "base", "-b", "", "namingContexts"],
                          capture_output=True, text=True, timeout=30)
    check("ldapsearch: anonymous root DSE", f"namingContexts: {BASE}" in root.stdout, root.stdout + root.stderr)
    anon = subprocess.run(["ldapsearch", "-x", "-LLL", "-H", uri, "-b", BASE, "(cn=user0001)"],
                          capture_output=True, text=True, timeout=30)
    check("ldapsearch: anonymous directory search refused (50)", anon.returncode == 50, anon.stderr)


def python_ldap3() -> None:
    server = Server(HOST, port=int(PORT), get_info=ALL)
    conn = Connection(server, user=dn("user0000"), password=PASSWORD, auto_bind=True)
    check("ldap3: server info read from the root DSE", BASE in (server.info.naming_contexts or []))
    posix = server.schema.object_classes.get("posixAccount") if server.schema else None
    check("ldap3: the subschema entry describes posixAccount and uidNumber",
          posix is not None and "uidNumber" in (posix.must_contain or [])
          and "uidNumber" in server.schema.attribute_types)
    # A user attribute is in the schema too, so ldap3's name checks let a filter use it.
    conn.search(BASE, "(department=lab)", search_scope=SUBTREE, attributes=["cn", "department"])
    check("ldap3: a filter on a user attribute (schema-checked) finds its user",
          [e.entry_dn.lower() for e in conn.entries] == [dn("user0007").lower()], str(conn.entries)[:200])
    entries = list(conn.extend.standard.paged_search(BASE, "(&(objectClass=user)(cn=user0*))", search_scope=SUBTREE,
                                                      attributes=["cn", "uidNumber"], paged_size=200,
                                                      generator=True))
    users = [e for e in entries if e.get("type") == "searchResEntry"]
    check("ldap3: paged subtree search returns every user", len(users) == USERS, f"{len(users)}")
    conn.search(BASE, f"(&(objectClass=user)(memberOf=cn=group07,ou=groups,{BASE}))", attributes=["cn"])
    check("ldap3: memberOf filter", len(conn.entries) == USERS // GROUPS, f"{len(conn.entries)}")
    conn.search(f"cn=group07,ou=groups,{BASE}", "(objectClass=groupOfNames)", search_scope="BASE",
                attributes=["member", "memberUid", "gidNumber"])
    group = conn.entries[0] if conn.entries else None
    check("ldap3: group member list", group is not None and len(group.member) == USERS // GROUPS
          and "user0007" in group.memberUid.values)
    conn.search(BASE, "(cn=user0*9)", attributes=["cn"])
    check("ldap3: substring filter", len([e for e in conn.entries if e.entry_dn.startswith("cn=user")]) >= 100)
    added = conn.add(f"cn=eve,ou=users,{BASE}", "inetOrgPerson", {"sn": "eve"})
    check("ldap3: writes are refused (unwillingToPerform)", not added and conn.result["result"] == 53, str(conn.result))
    conn.unbind()
    outsider = Connection(server, user=dn("outsider"), password=PASSWORD)
    check("ldap3: a user the application's bindings do not admit cannot bind", not outsider.bind(),
          str(outsider.result))
    member = Connection(server, user="user0003", password=PASSWORD, auto_bind=True)
    member.search(BASE, "(objectClass=user)", attributes=["cn"])
    check("ldap3: without search rights a user sees only themselves",
          [e.entry_dn for e in member.entries] == [dn("user0003")], str([e.entry_dn for e in member.entries][:3]))
    robot = Connection(server, user=dn("ldap-robot"), password=os.environ["ROBOT_KEY"])
    ok = robot.bind()
    if ok:
        robot.search(BASE, "(uid=user0500)", attributes=["mail"])
    check("ldap3: a service account binds with its app password and searches",
          ok and len(robot.entries) >= 1, str(robot.result))


def executor(browser: requests.Session, slug: str, answer: dict | None = None) -> dict:
    url = f"{URL}/api/v3/flows/executor/{slug}/"
    response = browser.post(url, json=answer, timeout=30) if answer else browser.get(url, timeout=30)
    response.raise_for_status()
    return response.json()


def oathtool(secret: str, at: float) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))
    return subprocess.run(["oathtool", "--totp", "-b", "--now", when, secret],
                          capture_output=True, text=True, check=True, timeout=10).stdout.strip()


def mfa_bind() -> None:
    api.patch(f"{URL}/api/v3/providers/ldap/{os.environ['PROVIDER_PK']}/",
              json={"mfa_support": True}, timeout=10).raise_for_status()
    browser = requests.Session()
    login = "default-authentication-flow"
    executor(browser, login)
    executor(browser, login, {"component": "ak-stage-identification", "uid_field": "user0005"})
    done = executor(browser, login, {"component": "ak-stage-password", "password": PASSWORD})
    check("user0005 signs in through the flow executor", done.get("component") == "xak-flow-redirect",
          str(done)[:200])
    setup = "default-authenticator-totp-setup"
    challenge = executor(browser, setup)
    secret = parse_qs(urlparse(challenge.get("config_url", "")).query).get("secret", [""])[0]
    enrolled_at = time.time()
    done = executor(browser, setup, {"component": "ak-stage-authenticator-totp",
                                     "code": oathtool(secret, enrolled_at)})
    check("user0005 enrolls TOTP with an oathtool code", done.get("component") == "xak-flow-redirect",
          str(done)[:200])

    uri = f"ldap://{HOST}:{PORT}"

    def whoami(password: str) -> subprocess.CompletedProcess:
        return subprocess.run(["ldapwhoami", "-x", "-H", uri, "-D", dn("user0005"), "-w", password],
                              capture_output=True, text=True, timeout=30)

    without = whoami(PASSWORD)
    check("an MFA user's bind without a code is refused", without.returncode == 49,
          without.stdout + without.stderr)
    # The enrollment used this step's code; the next step's is within the allowed drift.
    code = oathtool(secret, enrolled_at + 30)
    wrong = "".join(str((int(c) + 1) % 10) for c in code)
    refused = whoami(f"{PASSWORD};{wrong}")
    check("a wrong code is refused", refused.returncode == 49, refused.stdout + refused.stderr)
    bound = whoami(f"{PASSWORD};{code}")
    check("ldapwhoami binds with password;<oathtool code>",
          bound.returncode == 0 and "cn=user0005" in bound.stdout.lower(), bound.stdout + bound.stderr)
    replay = whoami(f"{PASSWORD};{code}")
    check("the same code again is refused (replay)", replay.returncode == 49, replay.stdout + replay.stderr)


def presented_certificate(server_name: str) -> bytes:
    """The certificate LDAPS presents to a client that sends `server_name` as SNI
    (Python's ssl module, OpenSSL underneath)."""
    ldaps_host, ldaps_port = os.environ["GATEHOUSE_LDAPS"].rsplit(":", 1)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((ldaps_host, int(ldaps_port)), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=server_name) as tls:
            return tls.getpeercert(binary_form=True) or b""


def sni_certificate() -> None:
    name = "ldap.interop.example"
    keypair = post("crypto/certificatekeypairs/generate/",
                   {"common_name": name, "subject_alt_name": name, "validity_days": 30})
    pem = api.get(f"{URL}/api/v3/crypto/certificatekeypairs/{keypair['pk']}/view_certificate/",
                  timeout=10).json()["data"]
    expected = ssl.PEM_cert_to_DER_cert(pem)
    api.patch(f"{URL}/api/v3/providers/ldap/{os.environ['PROVIDER_PK']}/",
              json={"certificate": keypair["pk"], "tls_server_name": name}, timeout=10).raise_for_status()
    check("LDAPS presents the provider's certificate for its TLS server name (SNI)",
          presented_certificate(name) == expected)
    with open(os.environ["GATEHOUSE_TLS_CERT"]) as own:
        own_der = ssl.PEM_cert_to_DER_cert(own.read())
    check("LDAPS presents gatehouse's own certificate for other names",
          presented_certificate("localhost") == own_der)


def main() -> int:
    setup()
    try:
        openldap_tools()
        python_ldap3()
        mfa_bind()
        sni_certificate()
    except LDAPException as error:
        failures.append(f"exception: {error!r}")
        print(f"FAIL  {error!r}")
    print(f"{passes} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

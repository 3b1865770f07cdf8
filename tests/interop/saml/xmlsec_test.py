#!/usr/bin/env python3
"""Interop check of gatehouse's XML signatures against xmlsec1, the reference C
implementation of XML-DSig (libxmlsec1 on libxml2 and OpenSSL), which nobody here wrote.

    python3 tests/interop/saml/xmlsec_test.py

(a) gatehouse signs SAML documents and `xmlsec1 --verify` must accept them (and refuse a
    tampered copy, so the check is not vacuous);
(b) `xmlsec1 --sign` signs SAML templates and gatehouse's verify must accept them and
    refuse tampered copies, copies checked with another certificate, and wrapping tricks;
(c) a Response made with gatehouse's tree builder (as the SAML endpoints will make them)
    and signed twice passes xmlsec1 for both signatures;
(d) HTTP-Redirect binding signatures, which xmlsec1 does not do, against the `openssl`
    command line (skipped with a note when it is missing): openssl signs a query that
    gatehouse verifies, and verifies a query gatehouse signs;
(e) XML Encryption: gatehouse encrypts a signed assertion for an SP certificate (AES-GCM
    and AES-CBC, RSA-OAEP key transport) and `xmlsec1 --decrypt` recovers it with the SP's
    key, its signature intact; another key cannot.

gatehouse's side is the cargo example `saml_xmldsig` (examples/saml_xmldsig.rs); the script
builds it unless SAML_XMLDSIG_BIN points at a built one. Needs Debian's `xmlsec1` package.
Standard library only. Prints one line per check and "N passed, N failed" at the end.
"""

import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
ASSERTION_ID_ATTR = "--id-attr:ID", SAML + ":Assertion"
RESPONSE_ID_ATTR = "--id-attr:ID", SAMLP + ":Response"
REQUEST_ID_ATTR = "--id-attr:ID", SAMLP + ":AuthnRequest"

passed = 0
failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}\n{detail}".rstrip())


def run(args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, **kwargs)


def example_binary():
    explicit = os.environ.get("SAML_XMLDSIG_BIN")
    if explicit:
        return explicit
    build = run(["cargo", "build", "-q", "--example", "saml_xmldsig"], cwd=ROOT)
    if build.returncode != 0:
        sys.exit(f"cargo build --example saml_xmldsig failed:\n{build.stderr}")
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(target, "debug", "examples", "saml_xmldsig")


# A Response as an IdP sends it, with the content canonicalization has to get right:
# pretty-printing whitespace, escapes, character references, non-ASCII text, a comment
# and CDATA inside the signed assertion, xml:lang, an xsi:type QName value, a default
# namespace and its undeclaration, attributes in no particular order.
RESPONSE = """<?xml version="1.0" encoding="UTF-8"?>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"
    xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"
    xmlns:xs="http://www.w3.org/2001/XMLSchema"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    Version="2.0" ID="_r1" IssueInstant="2026-11-23T19:00:00Z"
    Destination="https://sp.example/acs?a=1&amp;b=2" InResponseTo="_req1">
  <saml:Issuer>https://idp.example/application/saml/app/metadata/</saml:Issuer>
  <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
  <saml:Assertion Version="2.0" ID="_a1" IssueInstant="2026-11-23T19:00:00Z">
    <saml:Issuer>https://idp.example/application/saml/app/metadata/</saml:Issuer>
    <saml:Subject>
      <saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">alice@example.com</saml:NameID>
      <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
        <saml:SubjectConfirmationData NotOnOrAfter="2026-11-23T19:05:00Z" Recipient="https://sp.example/acs" InResponseTo="_req1"/>
      </saml:SubjectConfirmation>
    </saml:Subject>
    <saml:Conditions NotBefore="2026-11-23T18:59:00Z" NotOnOrAfter="2026-11-23T19:05:00Z">
      <saml:AudienceRestriction><saml:Audience>https://sp.example/</saml:Audience></saml:AudienceRestriction>
    </saml:Conditions>
    <saml:AttributeStatement>
      <saml:Attribute Name="http://schemas.xmlsoap.org/claims/Group" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">
        <saml:AttributeValue xsi:type="xs:string">admins &amp; &lt;friends&gt; "quoted" 'single'</saml:AttributeValue>
        <saml:AttributeValue xsi:type="xs:string" xml:lang="fr">Équipe café 日本 &#x263A; &#13;cr</saml:AttributeValue>
        <saml:AttributeValue xsi:type="xs:string"><!-- a comment -->com<![CDATA[<ment> & cdata]]>ent</saml:AttributeValue>
      </saml:Attribute>
      <saml:Attribute Name="note" z="last" a="first&#9;tab&#10;nl">
        <saml:AttributeValue><x:Extra xmlns:x="urn:example:extra" xmlns="urn:example:default"><inner><plain xmlns="">text</plain></inner></x:Extra></saml:AttributeValue>
      </saml:Attribute>
    </saml:AttributeStatement>
  </saml:Assertion>
</samlp:Response>
"""

SIGNATURE_TEMPLATE = """<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
      <ds:SignedInfo>
        <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
        <ds:SignatureMethod Algorithm="{sigalg}"/>
        <ds:Reference URI="#{id}">
          <ds:Transforms>
            <ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
            <ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#">{prefixes}</ds:Transform>
          </ds:Transforms>
          <ds:DigestMethod Algorithm="{digest}"/>
          <ds:DigestValue/>
        </ds:Reference>
      </ds:SignedInfo>
      <ds:SignatureValue/>
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo>
    </ds:Signature>"""

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"

# An SP-style AuthnRequest in the default namespace (a signed POST-binding request).
AUTHN_REQUEST = """<?xml version="1.0"?>
<AuthnRequest xmlns="urn:oasis:names:tc:SAML:2.0:protocol" ID="_req1" Version="2.0"
    IssueInstant="2026-11-23T19:00:00Z" AssertionConsumerServiceURL="https://sp.example/acs"
    Destination="https://idp.example/application/saml/app/sso/binding/post/">
  <saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">https://sp.example/</saml:Issuer>
  <NameIDPolicy AllowCreate="true" Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"/>
</AuthnRequest>
"""


# Namespace games canonicalization must get right, in a document of no particular schema:
# a prefix rebound to another URI below, a redundant redeclaration, a prefix used only by
# an attribute, attributes sorted by namespace URI rather than prefix, xmlns="" under a
# default namespace, a processing instruction, and unused declarations on the way.
TORTURE = """<?xml version="1.0" encoding="UTF-8"?>
<outer xmlns="urn:default:outer" xmlns:unused="urn:unused" xmlns:z="urn:a" xmlns:a="urn:z">
 <t:Doc xmlns:t="urn:t" xmlns:p="urn:p1" ID="_t1" z:attr="from urn:a" a:attr="from urn:z" plain="1">
  <t:Issuer>someone</t:Issuer>
  <p:one><p:two xmlns:p="urn:p2"><p:three xmlns:p="urn:p2" p:x="y"/></p:two></p:one>
  <inner><deeper xmlns=""><leaf/></deeper></inner>
  <?app some instruction ?>
  <t:text xml:space="preserve">  spaced	tabbed &#x20AC; &gt; ]]&gt; </t:text>
 </t:Doc>
</outer>
"""

UNPREFIXED_SIGNATURE = """<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">
      <SignedInfo>
        <CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
        <SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
        <Reference URI="#_a1">
          <Transforms>
            <Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
            <Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
          </Transforms>
          <DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
          <DigestValue/>
        </Reference>
      </SignedInfo>
      <SignatureValue/>
    </Signature>"""


def with_template(document, after, sigalg, digest, element_id, prefixes=""):
    """Inserts an xmlsec signature template right after the first `after` end tag."""
    inclusive = (
        '<ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" '
        f'PrefixList="{prefixes}"/>'
        if prefixes
        else ""
    )
    template = SIGNATURE_TEMPLATE.format(
        sigalg=sigalg, digest=digest, id=element_id, prefixes=inclusive
    )
    head, sep, tail = document.partition(after)
    assert sep, after
    return head + sep + "\n    " + template + tail


def main():
    xmlsec = shutil.which("xmlsec1")
    if not xmlsec:
        sys.exit("xmlsec1 is missing: apt-get install xmlsec1")
    version = run([xmlsec, "--version"]).stdout.strip()
    print(f"using {version}")
    ours = example_binary()
    work = tempfile.mkdtemp(prefix="saml-xmlsec-")
    try:
        interop(xmlsec, ours, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def interop(xmlsec, ours, work):
    def path(name):
        return os.path.join(work, name)

    def write(name, text):
        with open(path(name), "w", encoding="utf-8") as f:
            f.write(text)
        return path(name)

    def read(name):
        with open(path(name), encoding="utf-8") as f:
            return f.read()

    keys = {}
    for kind in ("rsa", "ec", "other"):
        key, cert = path(f"{kind}.key.pem"), path(f"{kind}.cert.pem")
        result = run([ours, "keygen", "--type", "ec" if kind == "ec" else "rsa", key, cert])
        if result.returncode != 0:
            sys.exit(f"keygen failed: {result.stderr}")
        keys[kind] = (key, cert)

    def xmlsec_verify(name, cert, *extra):
        return run(
            [xmlsec, "--verify", "--pubkey-cert-pem", cert, *extra, path(name)]
        )

    def our_sign(name, out, kind, ids, *extra):
        key, cert = keys[kind]
        args = [ours, "sign", "--key", key, "--cert", cert]
        for element_id in ids:
            args += ["--id", element_id]
        result = run(args + list(extra) + [path(name), path(out)])
        if result.returncode != 0:
            sys.exit(f"our sign failed: {result.stderr}")

    def our_verify(name, cert, element_id=None, *extra):
        args = [ours, "verify", "--cert", cert]
        if element_id:
            args += ["--id", element_id]
        return run(args + list(extra) + [path(name)])

    write("response.xml", RESPONSE)
    built_by_gatehouse(xmlsec, ours, keys, path, xmlsec_verify)
    redirect_binding(ours, keys, path)
    encrypted_assertions(xmlsec, ours, keys, path, xmlsec_verify)
    write("authn.xml", AUTHN_REQUEST)

    # --- (a) gatehouse signs, xmlsec1 verifies ------------------------------------------
    cases = [
        ("assertion RSA-SHA256", "rsa", ["_a1"], ["--alg", "rsa-sha256"], ASSERTION_ID_ATTR, []),
        ("assertion ECDSA-P256-SHA256", "ec", ["_a1"], ["--alg", "ecdsa-sha256"], ASSERTION_ID_ATTR, []),
        ("assertion RSA-SHA1 + SHA-1 digest", "rsa", ["_a1"], ["--alg", "rsa-sha1", "--digest", "sha1"], ASSERTION_ID_ATTR, []),
        ("assertion RSA-SHA256 with PrefixList xs", "rsa", ["_a1"], ["--prefixes", "xs"], ASSERTION_ID_ATTR, []),
        ("response RSA-SHA256 (assertion signed too)", "rsa", ["_a1", "_r1"], [], RESPONSE_ID_ATTR, ASSERTION_ID_ATTR),
        ("response ECDSA-P256-SHA256 (response only)", "ec", ["_r1"], ["--alg", "ecdsa-sha256"], RESPONSE_ID_ATTR, []),
    ]
    for index, (name, kind, ids, extra, id_attr, more_id_attr) in enumerate(cases):
        out = f"ours-{index}.xml"
        our_sign("response.xml", out, kind, ids, *extra)
        result = xmlsec_verify(out, keys[kind][1], *id_attr, *more_id_attr)
        check(
            f"(a) xmlsec1 accepts our {name}",
            result.returncode == 0 and "OK" in result.stderr,
            result.stderr,
        )
        if ids == ["_a1", "_r1"]:
            # The first Signature in the document is the response's; point xmlsec1 at
            # the assertion's too.
            result = xmlsec_verify(
                out,
                keys[kind][1],
                *id_attr,
                *more_id_attr,
                "--node-xpath",
                "//*[local-name()='Assertion']/*[local-name()='Signature']",
            )
            check(
                "(a) xmlsec1 accepts the inner assertion signature of our signed response",
                result.returncode == 0 and "OK" in result.stderr,
                result.stderr,
            )
        tampered = write(
            f"ours-{index}-tampered.xml",
            read(out).replace("alice@example.com", "admin@example.com"),
        )
        result = xmlsec_verify(os.path.basename(tampered), keys[kind][1], *id_attr, *more_id_attr)
        check(
            f"(a) xmlsec1 refuses a tampered copy of our {name}",
            result.returncode != 0,
            result.stdout + result.stderr,
        )
        result = xmlsec_verify(out, keys["other"][1], *id_attr, *more_id_attr)
        check(
            f"(a) xmlsec1 refuses our {name} with another certificate",
            result.returncode != 0,
            result.stdout + result.stderr,
        )
        # Our own verify agrees on our output (the same bytes xmlsec1 checked).
        result = our_verify(out, keys[kind][1], ids[-1], "--allow-sha1")
        check(f"(a) gatehouse accepts its own {name}", result.returncode == 0, result.stdout + result.stderr)

    write("torture.xml", TORTURE)
    for name, extra in (("", []), (" with PrefixList", ["--prefixes", "#default unused z p"])):
        out = f"ours-torture{len(extra)}.xml"
        our_sign("torture.xml", out, "ec", ["_t1"], "--alg", "ecdsa-sha256", *extra)
        result = xmlsec_verify(out, keys["ec"][1], "--id-attr:ID", "urn:t:Doc")
        check(
            f"(a) xmlsec1 accepts our c14n torture document{name}",
            result.returncode == 0 and "OK" in result.stderr,
            result.stderr,
        )

    our_sign("authn.xml", "ours-authn.xml", "rsa", ["_req1"], "--no-keyinfo")
    result = xmlsec_verify("ours-authn.xml", keys["rsa"][1], *REQUEST_ID_ATTR)
    check(
        "(a) xmlsec1 accepts our default-namespace AuthnRequest (no KeyInfo)",
        result.returncode == 0 and "OK" in result.stderr,
        result.stderr,
    )

    # --- (b) xmlsec1 signs, gatehouse verifies ------------------------------------------
    templates = [
        (
            "assertion RSA-SHA256",
            "rsa",
            "_a1",
            insert_in_assertion(RESPONSE, RSA_SHA256, SHA256, ""),
            ASSERTION_ID_ATTR,
            [],
        ),
        (
            "assertion ECDSA-P256-SHA256",
            "ec",
            "_a1",
            insert_in_assertion(RESPONSE, ECDSA_SHA256, SHA256, ""),
            ASSERTION_ID_ATTR,
            [],
        ),
        (
            "assertion RSA-SHA256 with PrefixList xs",
            "rsa",
            "_a1",
            insert_in_assertion(RESPONSE, RSA_SHA256, SHA256, "xs #default"),
            ASSERTION_ID_ATTR,
            [],
        ),
        (
            "assertion RSA-SHA1 + SHA-1 digest",
            "rsa",
            "_a1",
            insert_in_assertion(RESPONSE, RSA_SHA1, SHA1, ""),
            ASSERTION_ID_ATTR,
            ["--allow-sha1"],
        ),
        (
            "response RSA-SHA256",
            "rsa",
            "_r1",
            with_template(
                RESPONSE,
                "<saml:Issuer>https://idp.example/application/saml/app/metadata/</saml:Issuer>",
                RSA_SHA256,
                SHA256,
                "_r1",
            ),
            RESPONSE_ID_ATTR,
            [],
        ),
        (
            "c14n torture document RSA-SHA256",
            "rsa",
            "_t1",
            with_template(TORTURE, "<t:Issuer>someone</t:Issuer>", RSA_SHA256, SHA256, "_t1"),
            ("--id-attr:ID", "urn:t:Doc"),
            [],
        ),
        (
            "c14n torture document with PrefixList on both c14n steps",
            "ec",
            "_t1",
            with_template(
                TORTURE, "<t:Issuer>someone</t:Issuer>", ECDSA_SHA256, SHA256, "_t1", "unused #default z"
            ).replace(
                '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>',
                '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#">'
                '<ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="t unused #default"/>'
                "</ds:CanonicalizationMethod>",
            ),
            ("--id-attr:ID", "urn:t:Doc"),
            [],
        ),
        (
            "assertion with an unprefixed Signature",
            "rsa",
            "_a1",
            RESPONSE.replace(
                "<saml:Issuer>https://idp.example/application/saml/app/metadata/</saml:Issuer>\n    <saml:Subject>",
                "<saml:Issuer>https://idp.example/application/saml/app/metadata/</saml:Issuer>\n    "
                + UNPREFIXED_SIGNATURE
                + "\n    <saml:Subject>",
            ),
            ASSERTION_ID_ATTR,
            [],
        ),
        (
            "default-namespace AuthnRequest RSA-SHA256",
            "rsa",
            "_req1",
            with_template(AUTHN_REQUEST, "</saml:Issuer>", RSA_SHA256, SHA256, "_req1"),
            REQUEST_ID_ATTR,
            [],
        ),
    ]
    for index, (name, kind, element_id, template, id_attr, verify_extra) in enumerate(templates):
        write(f"template-{index}.xml", template)
        key, cert = keys[kind]
        out = f"xmlsec-{index}.xml"
        result = run(
            [
                xmlsec,
                "--sign",
                "--privkey-pem",
                f"{key},{cert}",
                *id_attr,
                "--output",
                path(out),
                path(f"template-{index}.xml"),
            ]
        )
        if result.returncode != 0:
            check(f"(b) xmlsec1 signs the {name} template", False, result.stderr)
            continue
        signed = read(out)
        result = our_verify(out, cert, element_id, *verify_extra)
        check(
            f"(b) gatehouse accepts xmlsec1's {name}",
            result.returncode == 0 and result.stdout.startswith("OK"),
            result.stdout + result.stderr,
        )
        result = our_verify(out, keys["other"][1], element_id, *verify_extra)
        check(
            f"(b) gatehouse refuses xmlsec1's {name} with another certificate",
            result.returncode == 1 and "does not verify" in result.stdout,
            result.stdout + result.stderr,
        )
        # Inside the signed element: the NameID in an assertion, the ACS URL in a request.
        if "alice@example.com" in signed:
            tampered_content = signed.replace("alice@example.com", "admin@example.com", 1)
        elif "spaced" in signed:
            tampered_content = signed.replace("spaced", "spaced ", 1)
        else:
            tampered_content = signed.replace("https://sp.example/", "https://evil.example/", 1)
        write(f"xmlsec-{index}-content.xml", tampered_content)
        result = our_verify(f"xmlsec-{index}-content.xml", cert, element_id, *verify_extra)
        check(
            f"(b) gatehouse refuses a tampered copy of xmlsec1's {name}",
            result.returncode == 1 and ("digest" in result.stdout or "does not verify" in result.stdout),
            result.stdout + result.stderr,
        )
        digest = re.search(r"<(?:ds:)?DigestValue>([^<]+)</(?:ds:)?DigestValue>", signed)
        if digest:
            value = digest.group(1).strip()
            forged = value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]
            write(f"xmlsec-{index}-digest.xml", signed.replace(value, forged, 1))
            result = our_verify(f"xmlsec-{index}-digest.xml", cert, element_id, *verify_extra)
            check(
                f"(b) gatehouse refuses xmlsec1's {name} with a changed DigestValue",
                result.returncode == 1,
                result.stdout + result.stderr,
            )
        if element_id == "_a1":
            # Wrapping: an unsigned copy of the assertion with the same ID placed first.
            start = signed.index("<saml:Assertion")
            end = signed.index("</saml:Assertion>") + len("</saml:Assertion>")
            original = signed[start:end]
            evil = re.sub(r"<(ds:)?Signature.*?</(ds:)?Signature>", "", original, flags=re.S)
            evil = evil.replace("alice@example.com", "admin@example.com")
            write(
                f"xmlsec-{index}-wrapped.xml",
                signed[:start] + evil + original + signed[end:],
            )
            result = our_verify(f"xmlsec-{index}-wrapped.xml", cert, element_id, *verify_extra)
            check(
                f"(b) gatehouse refuses xmlsec1's {name} with a duplicated assertion ID",
                result.returncode == 1 and "more than once" in result.stdout,
                result.stdout + result.stderr,
            )
        if "--allow-sha1" in verify_extra:
            result = our_verify(out, cert, element_id)
            check(
                f"(b) gatehouse refuses xmlsec1's {name} unless SHA-1 is allowed",
                result.returncode == 1 and "SHA-1" in result.stdout,
                result.stdout + result.stderr,
            )


def encrypted_assertions(xmlsec, ours, keys, path, xmlsec_verify):
    """(e) gatehouse encrypts a signed assertion for an SP's certificate (XML Encryption,
    RSA-OAEP key transport); `xmlsec1 --decrypt` with the SP's private key must recover
    it, and the recovered assertion's signature must still verify."""
    assertion = (
        f'<saml:Assertion xmlns:saml="{SAML}" ID="_enc1" Version="2.0" '
        'IssueInstant="2026-11-23T00:00:00Z"><saml:Issuer>https://idp.example/</saml:Issuer>'
        "<saml:Subject><saml:NameID>ada@example.com</saml:NameID></saml:Subject></saml:Assertion>"
    )
    with open(path("enc-plain.xml"), "w", encoding="utf-8") as f:
        f.write(assertion)
    idp_key, idp_cert = keys["rsa"]
    sp_key, sp_cert = keys["other"]
    signed = run([ours, "sign", "--key", idp_key, "--cert", idp_cert, "--id", "_enc1",
                  path("enc-plain.xml"), path("enc-signed.xml")])
    check("(e) gatehouse signs the assertion to encrypt", signed.returncode == 0, signed.stderr)
    for method in ("aes256-gcm", "aes128-gcm", "aes256-cbc", "aes128-cbc"):
        encrypted_name = f"enc-{method}.xml"
        made = run([ours, "encrypt", "--cert", sp_cert, "--method", method,
                    path("enc-signed.xml"), path(encrypted_name)])
        with open(path(encrypted_name), encoding="utf-8") as f:
            text = f.read() if made.returncode == 0 else ""
        check(f"(e) gatehouse encrypts with {method}; no plaintext left",
              made.returncode == 0 and "ada@example.com" not in text, made.stderr)
        decrypted = run([xmlsec, "--decrypt", "--privkey-pem", sp_key, path(encrypted_name)])
        check(f"(e) xmlsec1 decrypts {method} with the SP's key",
              decrypted.returncode == 0 and "ada@example.com" in decrypted.stdout,
              decrypted.stderr[-600:])
        with open(path(f"dec-{method}.xml"), "w", encoding="utf-8") as f:
            f.write(decrypted.stdout)
        verified = xmlsec_verify(f"dec-{method}.xml", idp_cert, *ASSERTION_ID_ATTR)
        check(f"(e) the decrypted {method} assertion's signature verifies in xmlsec1",
              verified.returncode == 0, verified.stderr[-600:])
        wrong = run([xmlsec, "--decrypt", "--privkey-pem", idp_key, path(encrypted_name)])
        check(f"(e) another key cannot decrypt {method}", wrong.returncode != 0)


def built_by_gatehouse(xmlsec, ours, keys, path, xmlsec_verify):
    for kind, alg in (("rsa", "rsa-sha256"), ("ec", "ecdsa-sha256")):
        key, cert = keys[kind]
        out = f"built-{kind}.xml"
        result = run([ours, "build", "--key", key, "--cert", cert, "--alg", alg, path(out)])
        if result.returncode != 0:
            check(f"(c) gatehouse builds a {alg} response", False, result.stderr)
            continue
        ids = (*RESPONSE_ID_ATTR, *ASSERTION_ID_ATTR)
        result = xmlsec_verify(out, cert, *ids)
        check(
            f"(c) xmlsec1 accepts the {alg} signature of a built response",
            result.returncode == 0 and "OK" in result.stderr,
            result.stderr,
        )
        result = xmlsec_verify(
            out,
            cert,
            *ids,
            "--node-xpath",
            "//*[local-name()='Assertion']/*[local-name()='Signature']",
        )
        check(
            f"(c) xmlsec1 accepts the {alg} signature of a built response's assertion",
            result.returncode == 0 and "OK" in result.stderr,
            result.stderr,
        )


def der_ecdsa(raw):
    """r || s as the DER SEQUENCE openssl wants."""

    def integer(value):
        value = value.lstrip(b"\0") or b"\0"
        if value[0] & 0x80:
            value = b"\0" + value
        return b"\x02" + bytes([len(value)]) + value

    body = integer(raw[:32]) + integer(raw[32:])
    return b"\x30" + bytes([len(body)]) + body


def redirect_binding(ours, keys, path):
    openssl = shutil.which("openssl")
    if not openssl:
        print("skip (d) redirect binding: no openssl command (apt-get install openssl)")
        return
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    request = deflate.compress(AUTHN_REQUEST.encode()) + deflate.flush()
    message = base64.b64encode(request).decode()
    relay_state = "https://sp.example/after login?x=1&y=é"
    for kind, sigalg in (("rsa", RSA_SHA256), ("ec", ECDSA_SHA256)):
        key, cert = keys[kind]
        # openssl signs, gatehouse verifies.
        quote = urllib.parse.quote
        octets = (
            f"SAMLRequest={quote(message, safe='')}"
            f"&RelayState={quote(relay_state, safe='')}"
            f"&SigAlg={quote(sigalg, safe='')}"
        )
        with open(path("octets.txt"), "w") as f:
            f.write(octets)
        signed = run([openssl, "dgst", "-sha256", "-sign", key, "-out", path("sig.bin"), path("octets.txt")])
        if signed.returncode != 0:
            check(f"(d) openssl signs a {kind} redirect query", False, signed.stderr)
            continue
        with open(path("sig.bin"), "rb") as f:
            signature = base64.b64encode(f.read()).decode()
        query = f"{octets}&Signature={quote(signature, safe='')}"
        result = run([ours, "verify-redirect", "--cert", cert, query])
        check(
            f"(d) gatehouse accepts a {kind} redirect query signed by openssl",
            result.returncode == 0 and f"relay_state={relay_state}" in result.stdout,
            result.stdout + result.stderr,
        )
        tampered = query.replace("RelayState=https", "RelayState=http", 1)
        result = run([ours, "verify-redirect", "--cert", cert, tampered])
        check(
            f"(d) gatehouse refuses a tampered {kind} redirect query",
            result.returncode == 1 and "does not verify" in result.stdout,
            result.stdout + result.stderr,
        )

        # gatehouse signs, openssl verifies.
        alg = "rsa-sha256" if kind == "rsa" else "ecdsa-sha256"
        result = run([ours, "sign-redirect", "--key", key, "--cert", cert, "--alg", alg, "--relay-state", relay_state, message])
        if result.returncode != 0:
            check(f"(d) gatehouse signs a {kind} redirect query", False, result.stderr)
            continue
        query = result.stdout.strip()
        raw = dict(part.split("=", 1) for part in query.split("&"))
        octets = f"SAMLResponse={raw['SAMLResponse']}&RelayState={raw['RelayState']}&SigAlg={raw['SigAlg']}"
        check(
            f"(d) gatehouse's {kind} redirect query carries what it was given",
            urllib.parse.unquote_plus(raw["SAMLResponse"]) == message
            and urllib.parse.unquote_plus(raw["RelayState"]) == relay_state
            and urllib.parse.unquote_plus(raw["SigAlg"]) == sigalg,
            query,
        )
        signature = base64.b64decode(urllib.parse.unquote_plus(raw["Signature"]))
        if kind == "ec":
            signature = der_ecdsa(signature)
        with open(path("octets.txt"), "w") as f:
            f.write(octets)
        with open(path("sig.bin"), "wb") as f:
            f.write(signature)
        public = run([openssl, "x509", "-pubkey", "-noout", "-in", cert])
        with open(path("public.pem"), "w") as f:
            f.write(public.stdout)
        result = run([openssl, "dgst", "-sha256", "-verify", path("public.pem"), "-signature", path("sig.bin"), path("octets.txt")])
        check(
            f"(d) openssl accepts a {kind} redirect query signed by gatehouse",
            result.returncode == 0 and "Verified OK" in result.stdout,
            result.stdout + result.stderr,
        )


def insert_in_assertion(document, sigalg, digest, prefixes):
    """A signature template right after the assertion's Issuer."""
    marker = '<saml:Assertion Version="2.0" ID="_a1" IssueInstant="2026-11-23T19:00:00Z">\n    <saml:Issuer>https://idp.example/application/saml/app/metadata/</saml:Issuer>'
    return with_template(document, marker, sigalg, digest, "_a1", prefixes)


if __name__ == "__main__":
    sys.exit(main())

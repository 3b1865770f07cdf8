#!/usr/bin/env node
// gatehouse as a SAML identity provider for @node-saml/node-saml (the library behind
// passport-saml), a second service provider nobody here wrote.
//
// The SP is configured from gatehouse's metadata document (entity id, SSO and SLO
// endpoints, signing certificate read from it); node-saml checks each Response itself:
// the signature (xml-crypto, against that certificate only), InResponseTo against the
// requests it cached, Issuer, audience, Destination/Recipient and the validity window.
// Node's fetch with a small cookie jar plays the browser and signs in through
// gatehouse's flow executor JSON API.
//
// Runs: SP-initiated sign-in through the Redirect binding and the POST binding (the
// form node-saml renders), a Response with an encrypted assertion that node-saml decrypts,
// an IdP-initiated sign-in refused by node-saml's InResponseTo check and accepted with
// it relaxed, SP-initiated logout whose signed redirect LogoutResponse node-saml verifies.
//
//     node node_saml_test.mjs      (GATEHOUSE_URL and GATEHOUSE_TOKEN from run.sh)
//
// Prints `PASS  <check>` per check; stops at the first failure with `FAIL  <check>: <why>`.

import { generateKeyPairSync, randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { SAML, ValidateInResponseTo } from "@node-saml/node-saml";

const BASE = (process.env.GATEHOUSE_URL ?? "http://127.0.0.1:9000").replace(/\/$/, "");
const TOKEN = process.env.GATEHOUSE_TOKEN ?? "";
const AUTHZ_FLOW = "default-provider-authorization-implicit-consent";
const USERNAME_ATTR = "http://schemas.goauthentik.io/2021/02/saml/username";

let passed = 0;
async function check(name, step) {
  try {
    const result = await step();
    passed += 1;
    console.log(`PASS  ${name}`);
    return result;
  } catch (error) {
    console.log(`FAIL  ${name}: ${error?.stack ?? error}`);
    console.log(`${passed} passed, 1 failed`);
    process.exit(1);
  }
}

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

const unescapeHtml = (text) =>
  text
    .replace(/&#x2f;/gi, "/")
    .replace(/&#x3d;/gi, "=")
    .replace(/&#x2b;/gi, "+")
    .replace(/&#x27;/gi, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");

// --- gatehouse's admin API -------------------------------------------------------------

async function api(method, path, wanted, body) {
  const response = await fetch(`${BASE}/api/v3/${path}`, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  expect(response.status === wanted, `${method} /api/v3/${path}: HTTP ${response.status}: ${text.slice(0, 400)}`);
  return text ? JSON.parse(text) : null;
}

async function pkOf(path, match) {
  const list = await api("GET", `${path}?page_size=100`, 200);
  const found = list.results.find((item) => Object.entries(match).every(([k, v]) => item[k] === v));
  expect(found, `nothing in ${path} matching ${JSON.stringify(match)}`);
  return found.pk;
}

// --- the browser -----------------------------------------------------------------------

class Browser {
  constructor(user) {
    this.user = user;
    this.cookies = new Map();
  }

  async fetch(url, init = {}) {
    const headers = { ...(init.headers ?? {}) };
    if (this.cookies.size) {
      headers.Cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    }
    const response = await fetch(url, { ...init, headers, redirect: "manual" });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(";");
      const [name, ...value] = pair.split("=");
      const removed = attributes.some((a) => /max-age=0/i.test(a.trim()));
      if (removed || value.join("=") === "") this.cookies.delete(name.trim());
      else this.cookies.set(name.trim(), value.join("="));
    }
    return response;
  }

  async runFlow(slug, query) {
    const url = `${BASE}/api/v3/flows/executor/${slug}/?query=${encodeURIComponent(query)}`;
    let challenge = await (await this.fetch(url)).json();
    for (let i = 0; i < 10; i += 1) {
      const component = challenge.component;
      let answer;
      if (component === "xak-flow-redirect") return challenge.to;
      if (component === "ak-stage-identification") {
        answer = { component, uid_field: this.user.username };
        if (challenge.password_fields) answer.password = this.user.password;
      } else if (component === "ak-stage-password") {
        answer = { component, password: this.user.password };
      } else {
        throw new Error(`flow ${slug}: unexpected challenge ${JSON.stringify(challenge)}`);
      }
      challenge = await (
        await this.fetch(url, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(answer),
        })
      ).json();
    }
    throw new Error(`flow ${slug} did not finish`);
  }

  // Follows gatehouse's own redirects (running flows); returns the first other answer.
  async go(url, init = {}) {
    for (let i = 0; i < 15; i += 1) {
      if (url.startsWith("/")) url = BASE + url;
      if (url.startsWith(`${BASE}/if/flow/`)) {
        const rest = url.slice(`${BASE}/if/flow/`.length);
        const slash = rest.indexOf("/");
        const query = rest.slice(slash + 1).replace(/^\?/, "");
        url = await this.runFlow(rest.slice(0, slash), query);
        init = {};
        continue;
      }
      const response = await this.fetch(url, init);
      const location = response.headers.get("location");
      if ([301, 302, 303].includes(response.status) && location && (location.startsWith("/") || location.startsWith(BASE))) {
        url = location;
        init = {};
        continue;
      }
      return response;
    }
    throw new Error(`too many redirects from ${url}`);
  }
}

async function readForm(response) {
  const html = await response.text();
  expect(response.status === 200, `wanted the POST-binding page, got HTTP ${response.status}: ${(/<p[^>]*>([^<]*)<\/p>/.exec(html) ?? [html])[1 - 0] ?? html.slice(0, 300)}`);
  const action = /<form[^>]*action="([^"]+)"/.exec(html);
  expect(action, `no form in ${html.slice(0, 300)}`);
  const fields = {};
  for (const [, name, value] of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) {
    fields[unescapeHtml(name)] = unescapeHtml(value);
  }
  return { action: unescapeHtml(action[1]), fields };
}

// --- setup -----------------------------------------------------------------------------

function spKeyPair(directory) {
  // node has no X.509 builder: openssl makes the SP's self-signed certificate.
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" });
  const keyPath = join(directory, "sp.key");
  execFileSync("sh", ["-c", `cat > ${keyPath}`], { input: keyPem });
  const certPem = execFileSync("openssl", [
    "req", "-new", "-x509", "-key", keyPath, "-subj", "/CN=node-saml SP", "-days", "30",
  ]).toString();
  return { keyPem, certPem };
}

async function createApp(slug, entity, acs, extra) {
  const provider = await api("POST", "providers/saml/", 201, {
    name: `node-saml ${slug}`,
    authorization_flow: await pkOf("flows/instances/", { slug: AUTHZ_FLOW }),
    acs_url: acs,
    audience: entity,
    signing_kp: await pkOf("crypto/certificatekeypairs/", { managed: "goauthentik.io/crypto/self-signed" }),
    ...extra,
  });
  await api("POST", "core/applications/", 201, { name: `node-saml ${slug}`, slug, provider: provider.pk });
  return provider;
}

/// The SP's view of the IdP, read from the metadata document.
async function idpFromMetadata(slug) {
  const response = await fetch(`${BASE}/application/saml/${slug}/metadata/`);
  const xml = await response.text();
  expect(response.status === 200, `metadata: HTTP ${response.status}`);
  const find = (pattern, what) => {
    const match = pattern.exec(xml);
    expect(match, `metadata lacks ${what}`);
    return match[1];
  };
  return {
    entityId: find(/entityID="([^"]+)"/, "entityID"),
    certificate: find(/<ds:X509Certificate>([^<]+)</, "the signing certificate"),
    ssoRedirect: find(/SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="([^"]+)"/, "SSO redirect"),
    ssoPost: find(/SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="([^"]+)"/, "SSO POST"),
    sloRedirect: find(/SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="([^"]+)"/, "SLO redirect"),
  };
}

function spFor(idp, entity, acs, extra = {}) {
  return new SAML({
    callbackUrl: acs,
    entryPoint: idp.ssoRedirect,
    logoutUrl: idp.sloRedirect,
    issuer: entity,
    audience: entity,
    idpIssuer: idp.entityId,
    idpCert: idp.certificate,
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: false,
    validateInResponseTo: ValidateInResponseTo.always,
    acceptedClockSkewMs: 5000,
    identifierFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    ...extra,
  });
}

async function main() {
  expect(TOKEN, "GATEHOUSE_TOKEN is not set");
  const run = randomBytes(3).toString("hex");
  const workdir = mkdtempSync(join(tmpdir(), "node-saml-interop-"));
  const user = await check("setup: a user with a password", async () => {
    const username = `nodesaml-${run}`;
    const password = `NodeSaml-${randomBytes(12).toString("base64url")}`;
    const created = await api("POST", "core/users/", 201, { username, name: "Node Saml", email: `${username}@example.com` });
    await api("POST", `core/users/${created.pk}/set_password/`, 204, { password });
    return { username, password, email: `${username}@example.com` };
  });
  const slug = `node-saml-${run}`;
  const entity = `https://${slug}.example.com/saml`;
  const acs = `https://${slug}.example.com/saml/acs`;
  const keys = spKeyPair(workdir);
  await check("setup: SAML provider (with the SP's certificate for encryption) and application", async () => {
    const certificate = await api("POST", "crypto/certificatekeypairs/", 201, {
      name: `node-saml SP ${run}`,
      certificate_data: keys.certPem,
    });
    await createApp(slug, entity, acs, {
      sls_url: `https://${slug}.example.com/saml/sls`,
      sls_binding: "redirect",
    });
    await createApp(`${slug}-enc`, `${entity}-enc`, `${acs}-enc`, { encryption_kp: certificate.pk });
  });
  const idp = await check("node-saml configured from gatehouse's metadata", () => idpFromMetadata(slug));
  const sp = spFor(idp, entity, acs);
  const browser = new Browser(user);

  const login = await check("SP-initiated sign-in, Redirect binding: node-saml validates and reads the profile", async () => {
    const url = await sp.getAuthorizeUrlAsync("relay-redirect", undefined, {});
    expect(url.startsWith(idp.ssoRedirect), url);
    const form = await readForm(await browser.go(url));
    expect(form.action === acs, `posted to ${form.action}`);
    expect(form.fields.RelayState === "relay-redirect", `RelayState ${form.fields.RelayState}`);
    const { profile, loggedOut } = await sp.validatePostResponseAsync(form.fields);
    expect(!loggedOut && profile, "a profile");
    expect(profile.nameID === user.email, `NameID ${profile.nameID}`);
    expect(profile[USERNAME_ATTR] === user.username, `username attribute: ${JSON.stringify(profile)}`);
    expect(profile.issuer === idp.entityId, `issuer ${profile.issuer}`);
    return profile;
  });

  await check("a tampered Response is refused by node-saml", async () => {
    const url = await sp.getAuthorizeUrlAsync("", undefined, {});
    const form = await readForm(await browser.go(url));
    const xml = Buffer.from(form.fields.SAMLResponse, "base64").toString();
    const forged = xml.replace(`>${user.username}<`, ">mallory<");
    expect(forged !== xml, "the username is in the response");
    let refused = false;
    try {
      await sp.validatePostResponseAsync({ SAMLResponse: Buffer.from(forged).toString("base64") });
    } catch {
      refused = true;
    }
    expect(refused, "node-saml accepted a changed assertion");
  });

  await check("SP-initiated sign-in, POST binding (node-saml's form): accepted", async () => {
    const postSp = spFor(idp, entity, acs, { entryPoint: idp.ssoPost, authnRequestBinding: "HTTP-POST" });
    const html = await postSp.getAuthorizeFormAsync("relay-post");
    const request = /name="SAMLRequest" value="([^"]+)"/.exec(html);
    expect(request, `no SAMLRequest in node-saml's form: ${html.slice(0, 300)}`);
    const body = new URLSearchParams({ SAMLRequest: unescapeHtml(request[1]), RelayState: "relay-post" });
    const form = await readForm(
      await browser.go(idp.ssoPost, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: body.toString(),
      }),
    );
    const { profile } = await postSp.validatePostResponseAsync(form.fields);
    expect(profile?.nameID === user.email, `NameID ${profile?.nameID}`);
  });

  await check("an encrypted assertion: node-saml decrypts it with the SP's key", async () => {
    const encIdp = await idpFromMetadata(`${slug}-enc`);
    const encSp = spFor(encIdp, `${entity}-enc`, `${acs}-enc`, { decryptionPvk: keys.keyPem });
    const form = await readForm(await browser.go(await encSp.getAuthorizeUrlAsync("", undefined, {})));
    const xml = Buffer.from(form.fields.SAMLResponse, "base64").toString();
    expect(xml.includes("EncryptedAssertion") && !xml.includes(user.username), "the assertion travels encrypted");
    const { profile } = await encSp.validatePostResponseAsync(form.fields);
    expect(profile?.[USERNAME_ATTR] === user.username, `decrypted profile: ${JSON.stringify(profile)}`);
  });

  await check("IdP-initiated sign-in: refused with InResponseTo required, accepted when relaxed", async () => {
    const form = await readForm(await browser.go(`${BASE}/application/saml/${slug}/sso/binding/init/`));
    let refused = false;
    try {
      await sp.validatePostResponseAsync(form.fields);
    } catch {
      refused = true;
    }
    expect(refused, "an unsolicited response passed validateInResponseTo=always");
    const relaxed = spFor(idp, entity, acs, { validateInResponseTo: ValidateInResponseTo.ifPresent });
    const { profile } = await relaxed.validatePostResponseAsync(form.fields);
    // No request, so no NameIDPolicy: the provider's default (a stable pseudonym).
    expect(/^[0-9a-f]{64}$/.test(profile?.nameID ?? ""), `NameID ${profile?.nameID}`);
    expect(profile?.[USERNAME_ATTR] === user.username, `username attribute: ${JSON.stringify(profile)}`);
  });

  await check("SP-initiated logout: node-saml verifies the signed redirect LogoutResponse", async () => {
    const url = await sp.getLogoutUrlAsync(login, "bye", {});
    expect(url.startsWith(idp.sloRedirect), url);
    const answer = await browser.fetch(url);
    expect(answer.status === 302, `logout: HTTP ${answer.status}`);
    const back = new URL(answer.headers.get("location"));
    expect(back.origin + back.pathname === `https://${slug}.example.com/saml/sls`, `sent to ${back}`);
    const query = Object.fromEntries(back.searchParams);
    const originalQuery = back.search.slice(1);
    let refused = false;
    try {
      await sp.validateRedirectAsync({ ...query, RelayState: "bxe" }, originalQuery.replace("RelayState=bye", "RelayState=bxe"));
    } catch {
      refused = true;
    }
    expect(refused, "node-saml accepted a LogoutResponse query whose signed RelayState was changed");
    const { loggedOut } = await sp.validateRedirectAsync(query, originalQuery);
    expect(loggedOut, "node-saml reads a successful LogoutResponse");
    const me = await browser.fetch(`${BASE}/api/v3/core/users/me/`);
    expect(me.status === 401 || me.status === 403, `still signed in: HTTP ${me.status}`);
  });

  rmSync(workdir, { recursive: true, force: true });
  console.log(`${passed} passed, 0 failed`);
}

await main();

#!/usr/bin/env node
// Passkeys and security keys in a real browser: Debian's Chromium driven by
// playwright-core over CDP, with a virtual authenticator (`WebAuthn.enable`,
// `WebAuthn.addVirtualAuthenticator`: CTAP2, internal transport, resident keys, user
// verification) standing in for the platform authenticator. The pages are gatehouse's
// own, with their own script calling `navigator.credentials.create/get`.
//
//   node webauthn_test.mjs OUTPUT_DIR
//
// Environment: GATEHOUSE_URL (the server; its 127.0.0.1 becomes `localhost`, since a
// browser refuses an IP address as a WebAuthn relying party id and treats
// http://localhost as a secure context), GATEHOUSE_ADMIN_PASSWORD, GATEHOUSE_TOKEN,
// CHROMIUM (default: chromium on the PATH). A screenshot of each page lands in
// OUTPUT_DIR as NN-scenario-page.png. Prints `PASS  <check>` per check and stops at the
// first failure with `FAIL  <check>: <why>` and exit status 1.

import { existsSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const outputDir = process.argv[2];
if (!outputDir) {
  console.error('usage: node webauthn_test.mjs OUTPUT_DIR');
  process.exit(2);
}
mkdirSync(outputDir, { recursive: true });

const serverUrl = new URL(process.env.GATEHOUSE_URL ?? 'http://127.0.0.1:9000');
if (serverUrl.hostname === '127.0.0.1' || serverUrl.hostname === '[::1]') {
  serverUrl.hostname = 'localhost';
}
const base = serverUrl.origin;
const adminPassword = process.env.GATEHOUSE_ADMIN_PASSWORD;
const apiToken = process.env.GATEHOUSE_TOKEN;
if (!adminPassword || !apiToken) {
  console.error('GATEHOUSE_ADMIN_PASSWORD and GATEHOUSE_TOKEN must be set');
  process.exit(2);
}
const TIMEOUT_MS = 15_000;

function findChromium() {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
    } catch {
      // try the next name
    }
  }
  return null;
}

const executablePath = findChromium();
if (!executablePath || !existsSync(executablePath)) {
  console.error(
    'FAIL  chromium is missing: apt-get install -y chromium (Debian), or set CHROMIUM=/path/to/chromium',
  );
  process.exit(1);
}

// --- checks ----------------------------------------------------------------------------

class CheckFailed extends Error {}

function expect(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

let passedCount = 0;
let browser;

async function check(name, step) {
  let result;
  try {
    result = await step();
  } catch (error) {
    console.log(`FAIL  ${name}: ${error?.message ?? error}`);
    if (process.env.WEBAUTHN_DEBUG && error?.stack) console.log(error.stack);
    console.log(`${passedCount} passed, 1 failed`);
    await browser?.close().catch(() => {});
    process.exit(1);
  }
  passedCount += 1;
  console.log(`PASS  ${name}`);
  return result;
}

// --- the browser -----------------------------------------------------------------------

let shotCount = 0;

async function shot(page, scenario, what) {
  shotCount += 1;
  const file = join(outputDir, `${String(shotCount).padStart(2, '0')}-${scenario}-${what}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** A fresh browser profile with its own virtual authenticator. */
async function newSession() {
  const context = await browser.newContext({ baseURL: base });
  context.setDefaultTimeout(TIMEOUT_MS);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  const credentials = async () =>
    (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
  return { context, page, cdp, authenticatorId, credentials };
}

/** Waits until the page shows `selector`; on failure says what the page shows instead. */
async function expectVisible(page, selector, what) {
  try {
    await page.locator(selector).first().waitFor({ state: 'visible' });
  } catch {
    const text = (await page.locator('body').innerText().catch(() => '')).slice(0, 300);
    throw new CheckFailed(`${what}: no ${selector} on ${page.url()}; the page says: ${text}`);
  }
}

async function passwordSignIn(page, scenario, username, password) {
  await page.goto('/if/flow/default-authentication-flow/');
  await expectVisible(page, 'input[name=uid_field]', 'the identification page');
  await shot(page, scenario, 'identification');
  await page.fill('input[name=uid_field]', username);
  await page.click('button[type=submit]');
  await expectVisible(page, 'input[name=password]', 'the password page');
  await shot(page, scenario, 'password');
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
}

async function expectSignedIn(page, scenario, what) {
  await page.waitForURL((url) => url.pathname.startsWith('/if/user/'), { timeout: TIMEOUT_MS })
    .catch(async () => {
      const text = (await page.locator('body').innerText().catch(() => '')).slice(0, 300);
      throw new CheckFailed(`${what}: ended on ${page.url()}; the page says: ${text}`);
    });
  await shot(page, scenario, what);
}

// --- scenarios -------------------------------------------------------------------------

browser = await chromium.launch({
  executablePath,
  headless: true,
  // Root in a container has no user namespaces for Chromium's sandbox.
  args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
});
console.log(`chromium ${browser.version()} at ${executablePath}; server ${base}; screenshots in ${outputDir}`);

await check('password sign-in in a real browser reaches the user portal', async () => {
  const { context, page } = await newSession();
  await passwordSignIn(page, 'password', 'akadmin', adminPassword);
  await expectSignedIn(page, 'password', 'portal');
  await context.close();
});

await check('the CDP virtual authenticator is there (navigator.credentials)', async () => {
  const { context, page } = await newSession();
  await page.goto('/if/flow/default-authentication-flow/');
  const available = await page.evaluate(
    () => globalThis.PublicKeyCredential?.isUserVerifyingPlatformAuthenticatorAvailable?.() ?? false,
  );
  expect(available === true, `isUserVerifyingPlatformAuthenticatorAvailable() = ${available}`);
  await context.close();
});

// --- passkey: enroll in the setup flow, sign out, sign in without a password ------------

const SETUP_FLOW = '/if/flow/default-authenticator-webauthn-setup/';

/** Follows the portal's "Add a passkey or security key" link through the setup flow. */
async function enroll(page, scenario) {
  await page.click(`a[href="${SETUP_FLOW}"]`);
  await expectVisible(page, '[data-webauthn-start]', 'the WebAuthn setup page');
  await shot(page, scenario, 'setup');
  await page.click('[data-webauthn-start]');
  await expectSignedIn(page, scenario, 'enrolled');
}

/** Signs out from the portal; ends on the sign-in page. */
async function signOut(page, scenario) {
  await Promise.all([
    page.waitForURL((url) => url.pathname.startsWith('/if/flow/default-authentication-flow/')),
    page.click('a[href="/flows/-/default/invalidation/"]'),
  ]);
  await shot(page, scenario, 'signed-out');
}

/** No conditional UI in this context (a browser without passkey autofill). */
async function withoutConditionalUi(context) {
  await context.addInitScript(() => {
    if (globalThis.PublicKeyCredential) {
      PublicKeyCredential.isConditionalMediationAvailable = async () => false;
    }
  });
}

async function api(path, init = {}) {
  const response = await fetch(`${base}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${apiToken}`,
      'content-type': 'application/json',
      ...(init.headers ?? {}),
    },
  });
  const text = await response.text();
  expect(response.ok, `${init.method ?? 'GET'} ${path}: HTTP ${response.status} ${text.slice(0, 200)}`);
  return text ? JSON.parse(text) : null;
}

/** The user's WebAuthn devices as the admin API lists them. */
async function webauthnDevices(userPk) {
  const answer = await api(`/api/v3/authenticators/admin/webauthn/?user=${userPk}`);
  return answer.results ?? answer;
}

/** A new user with a password, through the admin API. */
async function createUser(prefix, name) {
  const user = {
    username: `${prefix}-${Date.now()}`,
    password: `Key-${Math.random().toString(36).slice(2)}-x9`,
  };
  const created = await api('/api/v3/core/users/', {
    method: 'POST',
    body: JSON.stringify({ username: user.username, name, email: `${user.username}@example.com` }),
  });
  user.pk = created.pk;
  await api(`/api/v3/core/users/${created.pk}/set_password/`, {
    method: 'POST',
    body: JSON.stringify({ password: user.password }),
  });
  return user;
}

const pat = await check('passkey: a user with a password (admin API)', () => createUser('pat', 'Pat'));
const passkey = await newSession();

await check('passkey: enroll from the user settings (portal link, setup flow, navigator.credentials.create, resident key)', async () => {
  const { page, credentials } = passkey;
  await passwordSignIn(page, 'passkey', pat.username, pat.password);
  await expectSignedIn(page, 'passkey', 'portal');
  await enroll(page, 'passkey');
  const stored = await credentials();
  expect(stored.length === 1, `the authenticator holds ${stored.length} credentials`);
  expect(stored[0].isResidentCredential === true, 'the credential is not discoverable');
  expect(stored[0].rpId === 'localhost', `rp id ${stored[0].rpId}`);
});

await check('passkey: the server keeps it as a WebAuthn device of the user', async () => {
  const devices = await webauthnDevices(pat.pk);
  expect(devices.length === 1, `${devices.length} WebAuthn devices: ${JSON.stringify(devices).slice(0, 300)}`);
});

await check('passkey: sign out; the sign-in page\'s autofill (conditional UI) signs in with the passkey, no username, no password', async () => {
  const { page, credentials } = passkey;
  const before = (await credentials())[0].signCount;
  // The virtual authenticator answers the conditional request at once, as a user
  // picking the passkey from the username field's autofill would.
  await signOut(page, 'passkey');
  await expectSignedIn(page, 'passkey', 'autofill-portal');
  const text = await page.locator('body').innerText();
  expect(text.includes(pat.username), `the portal does not show ${pat.username}`);
  const after = (await credentials())[0].signCount;
  expect(after > before, `sign count ${before} -> ${after}`);
});

// The same passkey in a browser without autofill: the "Sign in with a passkey" button.
const button = await newSession();
await withoutConditionalUi(button.context);

await check('passkey: the sign-in page offers a "Sign in with a passkey" button', async () => {
  const { page, cdp, authenticatorId } = button;
  for (const credential of await passkey.credentials()) {
    await cdp.send('WebAuthn.addCredential', { authenticatorId, credential });
  }
  await page.goto('/if/flow/default-authentication-flow/');
  await expectVisible(page, '[data-webauthn-start]', 'the passkey button');
  const autocomplete = await page.getAttribute('input[name=uid_field]', 'autocomplete');
  expect(autocomplete?.includes('webauthn'), `uid_field autocomplete="${autocomplete}"`);
  await shot(page, 'passkey', 'identification-with-passkey-button');
});

await check('passkey: the button signs in with it, no username, no password', async () => {
  const { page, credentials } = button;
  const before = (await credentials())[0].signCount;
  await page.click('[data-webauthn-start]');
  await expectSignedIn(page, 'passkey', 'button-portal');
  const text = await page.locator('body').innerText();
  expect(text.includes(pat.username), `the portal does not show ${pat.username}`);
  const after = (await credentials())[0].signCount;
  expect(after > before, `sign count ${before} -> ${after}`);
});

await button.context.close();
await passkey.context.close();

// --- security key: enroll as a second factor, sign in with password + key ---------------

const alice = await check('security key: a user with a password (admin API)', () => createUser('alice', 'Alice'));

/** A USB security key: no resident keys, no user verification (touch only). */
async function securityKeySession() {
  const session = await newSession();
  await session.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: session.authenticatorId });
  const { authenticatorId } = await session.cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'usb',
      hasResidentKey: false,
      hasUserVerification: false,
      automaticPresenceSimulation: true,
    },
  });
  session.credentials = async () =>
    (await session.cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
  return session;
}

const key = await securityKeySession();

await check('security key: enroll it from the user settings (portal link, setup flow)', async () => {
  const { page, credentials } = key;
  await passwordSignIn(page, 'security-key', alice.username, alice.password);
  await expectSignedIn(page, 'security-key', 'portal');
  await enroll(page, 'security-key');
  const stored = await credentials();
  expect(stored.length === 1, `the key holds ${stored.length} credentials`);
  expect(stored[0].isResidentCredential === false, 'a USB key without resident keys made a discoverable credential');
  const devices = await webauthnDevices(alice.pk);
  expect(devices.length === 1, `${devices.length} WebAuthn devices for alice`);
});

await check('security key: sign out', async () => {
  await signOut(key.page, 'security-key');
  await key.page.goto('/if/user/');
  expect(!new URL(key.page.url()).pathname.startsWith('/if/user/'), 'still signed in');
});

await check('security key: password, then the key as the second factor', async () => {
  const { page, credentials } = key;
  const before = (await credentials())[0].signCount;
  await passwordSignIn(page, 'security-key', alice.username, alice.password);
  await expectVisible(page, '[data-webauthn-start]', 'the second-factor page');
  expect(
    page.url().includes('/if/flow/default-authentication-flow/'),
    `second factor on ${page.url()}`,
  );
  await shot(page, 'security-key', 'second-factor');
  await page.click('[data-webauthn-start]');
  await expectSignedIn(page, 'security-key', 'portal-after-key');
  const after = (await credentials())[0].signCount;
  expect(after > before, `sign count ${before} -> ${after}`);
});

await check('security key: without the key the password alone does not sign in', async () => {
  const stranger = await newSession();
  const { page } = stranger;
  await passwordSignIn(page, 'no-key', alice.username, alice.password);
  await expectVisible(page, '[data-webauthn-start]', 'the second-factor page');
  await page.click('[data-webauthn-start]');
  // This browser's authenticator has no credential for alice: the browser says so
  // after its timeout, or refuses at once; either way the page stays, no session.
  await page.waitForTimeout(1500);
  expect(!new URL(page.url()).pathname.startsWith('/if/user/'), 'signed in without the key');
  await shot(page, 'no-key', 'second-factor-without-key');
  await stranger.context.close();
});

await key.context.close();

// Leave the directory as it was for the scripts that come after (LDAP counts users).
await check('clean up: the two users are deleted (with their devices)', async () => {
  for (const user of [pat, alice]) {
    await api(`/api/v3/core/users/${user.pk}/`, { method: 'DELETE' });
  }
  const left = await webauthnDevices(alice.pk).catch(() => []);
  expect(left.length === 0, `${left.length} devices left`);
});

await browser.close();
console.log(`${passedCount} passed, 0 failed`);

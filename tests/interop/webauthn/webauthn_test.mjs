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

await browser.close();
console.log(`${passedCount} passed, 0 failed`);

// WebAuthn ceremonies for gatehouse's flow pages: creates a passkey or security key
// (`navigator.credentials.create`), or signs in with one (`navigator.credentials.get`),
// then posts the credential as JSON in a hidden field of the page's form. No framework,
// no build step.
//
// The page carries the server's options in
//   <script type="application/json" id="webauthn-options"
//           data-mode="create|get|conditional" data-field="response|webauthn">
// (binary members base64url, as webauthn-rs writes them) and optional controls:
//   [data-webauthn-start]  a button that (re)starts the ceremony (with conditional mode:
//                          the "Sign in with a passkey" button, a modal request);
//   [data-webauthn-status] where progress and errors are shown.
// `create` and `get` start from the button (a user gesture, which Safari requires);
// `conditional` also asks the browser to offer passkeys in the username field's autofill
// (`autocomplete="username webauthn"`) and waits.
(() => {
  'use strict';

  const holder = document.getElementById('webauthn-options');
  if (!holder) return;
  const form = holder.closest('form');
  const mode = holder.dataset.mode || 'get';
  const fieldName = holder.dataset.field || 'webauthn';
  const status = document.querySelector('[data-webauthn-status]');
  const startButton = document.querySelector('[data-webauthn-start]');
  let options;
  try {
    options = JSON.parse(holder.textContent);
  } catch {
    return;
  }

  const say = (message, isError) => {
    if (!status) return;
    status.textContent = message;
    status.classList.toggle('field-error', Boolean(isError));
    status.setAttribute('role', isError ? 'alert' : 'status');
  };

  const fromBase64url = (text) => {
    const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
    const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
    const bytes = atob(padded);
    const out = new Uint8Array(bytes.length);
    for (let i = 0; i < bytes.length; i += 1) out[i] = bytes.charCodeAt(i);
    return out.buffer;
  };

  const toBase64url = (buffer) => {
    if (!buffer) return null;
    const bytes = new Uint8Array(buffer);
    let text = '';
    for (let i = 0; i < bytes.length; i += 1) text += String.fromCharCode(bytes[i]);
    return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  };

  // Drops nulls: WebIDL dictionaries refuse null where a member is absent.
  const clean = (value) => {
    if (Array.isArray(value)) return value.map(clean);
    if (value && typeof value === 'object' && !(value instanceof ArrayBuffer)) {
      const out = {};
      for (const [key, member] of Object.entries(value)) {
        if (member !== null && member !== undefined) out[key] = clean(member);
      }
      return out;
    }
    return value;
  };

  const descriptors = (list) =>
    (list || []).map((item) => ({ ...item, id: fromBase64url(item.id) }));

  const creationOptions = () => {
    const publicKey = clean(options.publicKey);
    publicKey.challenge = fromBase64url(publicKey.challenge);
    publicKey.user = { ...publicKey.user, id: fromBase64url(publicKey.user.id) };
    publicKey.excludeCredentials = descriptors(publicKey.excludeCredentials);
    return { publicKey };
  };

  const requestOptions = () => {
    const publicKey = clean(options.publicKey);
    publicKey.challenge = fromBase64url(publicKey.challenge);
    publicKey.allowCredentials = descriptors(publicKey.allowCredentials);
    return { publicKey };
  };

  const encode = (credential) => {
    const response = credential.response;
    const out = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults
        ? credential.getClientExtensionResults()
        : {},
      response: { clientDataJSON: toBase64url(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      out.response.attestationObject = toBase64url(response.attestationObject);
      if (response.getTransports) out.response.transports = response.getTransports();
    } else {
      out.response.authenticatorData = toBase64url(response.authenticatorData);
      out.response.signature = toBase64url(response.signature);
      out.response.userHandle = toBase64url(response.userHandle);
    }
    return out;
  };

  const submit = (credential) => {
    let input = form.querySelector(`input[name="${fieldName}"]`);
    if (!input) {
      input = document.createElement('input');
      input.type = 'hidden';
      input.name = fieldName;
      form.appendChild(input);
    }
    input.value = JSON.stringify(encode(credential));
    // Whatever else the form asks for (a username) is not needed now.
    for (const other of form.querySelectorAll('[required]')) other.required = false;
    form.submit();
  };

  const explain = (error) => {
    switch (error && error.name) {
      case 'NotAllowedError':
        return 'The request was cancelled or timed out.';
      case 'InvalidStateError':
        return 'This authenticator is already registered for your account.';
      case 'SecurityError':
        return 'This address cannot use passkeys (it needs HTTPS or localhost and a host name).';
      case 'NotSupportedError':
        return 'This browser or authenticator does not support what is asked.';
      default:
        return `The authenticator failed: ${(error && error.message) || error}`;
    }
  };

  let pending = null;

  const run = async (conditional) => {
    if (!window.PublicKeyCredential || !navigator.credentials) {
      say('This browser does not support passkeys or security keys.', true);
      return;
    }
    if (pending) pending.abort();
    pending = new AbortController();
    try {
      let credential;
      if (mode === 'create') {
        say('Follow your browser\u2019s prompt to create the passkey or touch your security key\u2026');
        credential = await navigator.credentials.create({ ...creationOptions(), signal: pending.signal });
      } else {
        const request = { ...requestOptions(), signal: pending.signal };
        if (conditional) {
          request.mediation = 'conditional';
        } else {
          say('Follow your browser\u2019s prompt to use your passkey or security key\u2026');
        }
        credential = await navigator.credentials.get(request);
      }
      if (credential) {
        say('Checking\u2026');
        submit(credential);
      }
    } catch (error) {
      if (error && error.name === 'AbortError') return;
      say(explain(error), true);
    }
  };

  if (startButton) {
    startButton.hidden = false;
    startButton.addEventListener('click', (event) => {
      event.preventDefault();
      run(false);
    });
  }

  if (mode === 'conditional') {
    if (window.PublicKeyCredential && PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then((available) => {
        if (available) run(true);
      });
    }
  } else if (!startButton) {
    run(false);
  }
})();

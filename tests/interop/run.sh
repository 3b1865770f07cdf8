#!/usr/bin/env bash
# Interop tests (layer 3 in shared/ARCHITECTURE.md): software nobody here wrote, run as
# its users run it, against a real gatehouse server on a free loopback port with a
# fresh data directory.
#
#   bash tests/interop/run.sh
#
# Installs what it needs into a venv under the cargo target directory (reused between
# runs) and into oidc/node_modules and webauthn/node_modules (npm ci, from their
# package-lock.json), builds the binary if it is missing (INTEROP_REBUILD=1 always runs
# `cargo build`; GATEHOUSE_BIN points at another binary), and fails loudly when a tool is
# missing. The WebAuthn script needs Debian's chromium.
# Exits non-zero if any script fails; prints the server log when something failed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

die() {
    echo "interop: $*" >&2
    exit 1
}

need() {
    command -v "$1" >/dev/null 2>&1 || die "required tool '$1' is missing: $2"
}

python="${PYTHON:-python3}"
need "$python" "install Python 3.9+ (apt-get install python3 python3-venv)"
need curl "apt-get install curl"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' ||
    die "$python is older than 3.9, which authentik-client needs"
"$python" -c 'import venv, ensurepip' 2>/dev/null ||
    die "$python cannot make virtual environments (apt-get install python3-venv)"
need node "install Node.js 20+ (apt-get install nodejs npm) for the OpenID Connect relying party"
need npm "install npm (apt-get install npm) for the OpenID Connect relying party"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)' ||
    die "node $(node --version) is older than 20, which openid-client 6 needs"

target_dir="${CARGO_TARGET_DIR:-$root/target}"
venv="$target_dir/interop-venv"

# --- Python clients -------------------------------------------------------------------
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
    echo "interop: creating $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv" || die "could not create a venv at $venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$here/requirements.txt" || die "pip could not install $here/requirements.txt"

# --- node clients (the versions in oidc/package-lock.json) -----------------------------
(cd "$here/oidc" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
    die "npm ci failed in $here/oidc (is the npm registry reachable?)"

# --- the server binary ----------------------------------------------------------------
bin="${GATEHOUSE_BIN:-$target_dir/debug/gatehouse}"
if [[ -z "${GATEHOUSE_BIN:-}" ]] && { [[ ! -x "$bin" ]] || [[ "${INTEROP_REBUILD:-0}" == 1 ]]; }; then
    need cargo "install the Rust toolchain (rustup)"
    echo "interop: cargo build"
    cargo build || die "cargo build failed"
fi
[[ -x "$bin" ]] || die "no gatehouse binary at $bin"

# --- start the server -----------------------------------------------------------------
free_port() {
    "$python" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

secret() {
    "$python" -c 'import secrets; print(secrets.token_urlsafe(24))'
}

port="$(free_port)"
ldap_port="$(free_port)"
ldaps_port="$(free_port)"
data_dir="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-interop.XXXXXX")"
log="$data_dir/server.log"
base="http://127.0.0.1:$port"
admin_password="Interop-$(secret)"
admin_token="$(secret)"
server_pid=""
failed=0

print_log() {
    echo "----- gatehouse server log ($log) -----" >&2
    cat "$log" >&2 || true
    echo "----- end of server log -----" >&2
}

stop_server() {
    local status=$?
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ $status -ne 0 || $failed -ne 0 ]]; then
        print_log
    fi
    rm -rf "$data_dir"
}
trap stop_server EXIT
trap 'exit 130' INT TERM

echo "interop: starting $bin on $base (data in $data_dir)"
GATEHOUSE_DATA_DIR="$data_dir" \
    AUTHENTIK_BOOTSTRAP_PASSWORD="$admin_password" \
    AUTHENTIK_BOOTSTRAP_TOKEN="$admin_token" \
    AUTHENTIK_BOOTSTRAP_EMAIL=admin@example.com \
    GATEHOUSE_LISTEN__HTTP="127.0.0.1:$port" \
    GATEHOUSE_LISTEN__HTTPS=off \
    GATEHOUSE_LISTEN__METRICS=off \
    GATEHOUSE_LISTEN__LDAP="127.0.0.1:$ldap_port" \
    GATEHOUSE_LISTEN__LDAPS="127.0.0.1:$ldaps_port" \
    GATEHOUSE_PASSWORD_HASHING__MEMORY_KIB=1024 \
    GATEHOUSE_PASSWORD_HASHING__ITERATIONS=1 \
    "$bin" serve >"$log" 2>&1 &
server_pid=$!

ready=0
deadline=$((SECONDS + 30))
while ((SECONDS < deadline)); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        die "the server exited before it was ready"
    fi
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$base/-/health/ready/" || true)"
    if [[ "$code" == 204 ]]; then
        ready=1
        break
    fi
    sleep 0.2
done
((ready)) || die "the server was not ready within 30 s ($base/-/health/ready/)"
echo "interop: server ready"

# --- the scripts ----------------------------------------------------------------------
export GATEHOUSE_URL="$base"
export GATEHOUSE_TOKEN="$admin_token"
export GATEHOUSE_ADMIN_PASSWORD="$admin_password"
export GATEHOUSE_LDAP="127.0.0.1:$ldap_port"
export GATEHOUSE_LDAPS="127.0.0.1:$ldaps_port"
# The self-signed certificate gatehouse generated (LDAPS and StartTLS present it).
export GATEHOUSE_TLS_CERT="$data_dir/tls/cert.pem"
# Never send loopback traffic through a proxy from the environment.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"

passed_scripts=()
failed_scripts=()
shopt -s nullglob
scripts=("$here"/*_test.py)
((${#scripts[@]})) || die "no *_test.py scripts in $here"
for script in "${scripts[@]}"; do
    name="$(basename "$script")"
    echo "interop: == $name"
    if "$venv/bin/python" "$script"; then
        passed_scripts+=("$name")
    else
        failed_scripts+=("$name")
        failed=1
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "interop: the server died during $name" >&2
        failed=1
        break
    fi
done

# --- OpenID Connect relying parties ---------------------------------------------------
# The issuer is http://127.0.0.1:<port>/application/o/<slug>/ because the scripts reach
# the server on the address it listens on (the issuer follows the request's host).
run_step() {
    local name="$1"
    shift
    echo "interop: == $name"
    if "$@"; then
        passed_scripts+=("$name")
    else
        failed_scripts+=("$name")
        failed=1
        return 1
    fi
}

oidc_setup="$data_dir/oidc-setup.json"
if kill -0 "$server_pid" 2>/dev/null; then
    if run_step oidc/setup_oidc.py "$venv/bin/python" "$here/oidc/setup_oidc.py" "$oidc_setup"; then
        run_step oidc/openid_client_test.mjs node "$here/oidc/openid_client_test.mjs" "$oidc_setup" || true
        run_step oidc/authlib_test.py "$venv/bin/python" "$here/oidc/authlib_test.py" "$oidc_setup" || true
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "interop: the server died during the OpenID Connect scripts" >&2
        failed=1
    fi
fi

# --- forward authentication: real Caddy and nginx in front of an echo upstream ---------
# forward_auth/forward_auth_test.py starts Caddy, nginx and the upstream on free loopback
# ports itself, stops them when it ends, and prints their logs when a check failed.
forward_auth_tools=1
for tool in caddy nginx; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "interop: required tool '$tool' is missing for forward_auth:" \
            "apt-get install -y --no-install-recommends caddy nginx-light wrk" >&2
        forward_auth_tools=0
    fi
done
if ((!forward_auth_tools)); then
    failed_scripts+=("forward_auth (caddy/nginx missing)")
    failed=1
elif kill -0 "$server_pid" 2>/dev/null; then
    run_step forward_auth/forward_auth_test.py \
        "$venv/bin/python" "$here/forward_auth/forward_auth_test.py" || true
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "interop: the server died during the forward-auth script" >&2
        failed=1
    fi
fi

# --- WebAuthn: passkeys and security keys in Debian's Chromium --------------------------
# webauthn/webauthn_test.mjs drives Chromium through playwright-core (the version in
# webauthn/package-lock.json) with a CDP virtual authenticator; a screenshot of each page
# lands in $target_dir/interop-output/webauthn/ (kept after the run).
webauthn_output="$target_dir/interop-output/webauthn"
if ! command -v chromium >/dev/null 2>&1 && [[ -z "${CHROMIUM:-}" ]]; then
    echo "interop: required tool 'chromium' is missing for webauthn:" \
        "apt-get install -y --no-install-recommends chromium (or set CHROMIUM=/path/to/chromium)" >&2
    failed_scripts+=("webauthn (chromium missing)")
    failed=1
elif ! (cd "$here/webauthn" && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
    echo "interop: npm ci failed in $here/webauthn (is the npm registry reachable?)" >&2
    failed_scripts+=("webauthn (npm ci failed)")
    failed=1
elif kill -0 "$server_pid" 2>/dev/null; then
    rm -rf "$webauthn_output"
    run_step webauthn/webauthn_test.mjs \
        node "$here/webauthn/webauthn_test.mjs" "$webauthn_output" || true
    echo "interop: WebAuthn screenshots in $webauthn_output"
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "interop: the server died during the WebAuthn script" >&2
        failed=1
    fi
fi

# --- LDAP: OpenLDAP's ldapwhoami/ldapsearch and Python ldap3 against the listener -------
# Last, because it adds 1,000 users.
if ! command -v ldapsearch >/dev/null 2>&1; then
    echo "interop: required tool 'ldapsearch' is missing for ldap:" \
        "apt-get install -y --no-install-recommends ldap-utils" >&2
    failed_scripts+=("ldap (ldap-utils missing)")
    failed=1
elif kill -0 "$server_pid" 2>/dev/null; then
    run_step ldap/ldap_test.py "$venv/bin/python" "$here/ldap/ldap_test.py" || true
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "interop: the server died during the LDAP script" >&2
        failed=1
    fi
fi

# --- SAML XML signatures: xmlsec1 (and openssl for the redirect binding), no server ----
if ! command -v xmlsec1 >/dev/null 2>&1; then
    echo "interop: required tool 'xmlsec1' is missing for saml:" \
        "apt-get install -y --no-install-recommends xmlsec1" >&2
    failed_scripts+=("saml (xmlsec1 missing)")
    failed=1
else
    run_step saml/xmlsec_test.py "$python" "$here/saml/xmlsec_test.py" || true
fi

# --- SAML identity provider: pysaml2 as the service provider (xmlsec1 checks signatures) -
# Configured from the metadata URL; SP-initiated sign-in over both bindings, signed
# requests, IdP-initiated sign-in and logout, through the flow executor JSON API.
if command -v xmlsec1 >/dev/null 2>&1 && kill -0 "$server_pid" 2>/dev/null; then
    run_step saml/pysaml2_test.py "$venv/bin/python" "$here/saml/pysaml2_test.py" || true
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "interop: the server died during the pysaml2 script" >&2
        failed=1
    fi
fi

# --- SAML identity provider: @node-saml/node-saml as the service provider ----------------
# The versions in saml/package-lock.json; openssl makes the SP's certificate.
if ! (cd "$here/saml" && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
    echo "interop: npm ci failed in $here/saml (is the npm registry reachable?)" >&2
    failed_scripts+=("saml/node_saml_test.mjs (npm ci failed)")
    failed=1
elif kill -0 "$server_pid" 2>/dev/null; then
    run_step saml/node_saml_test.mjs node "$here/saml/node_saml_test.mjs" || true
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "interop: the server died during the node-saml script" >&2
        failed=1
    fi
fi

echo "interop: scripts passed: ${passed_scripts[*]:-none}"
if ((failed)); then
    echo "interop: scripts FAILED: ${failed_scripts[*]:-(server died)}" >&2
    exit 1
fi

#!/usr/bin/env bash
# Installs gatehouse as a systemd service on Debian, Ubuntu or Raspberry Pi OS, or
# upgrades it in place (run it again with a newer binary: data and config are kept).
#
#   sudo ./install.sh ./gatehouse-aarch64          # a binary you downloaded or built
#   sudo ./install.sh https://example.org/gatehouse-x86_64
#   sudo ./install.sh                              # the binary beside this script, named
#                                                  # gatehouse-<arch> or gatehouse
#   sudo ./install.sh --uninstall                  # stops and removes the service;
#   sudo ./install.sh --uninstall --purge          # ...and the data and config too
#
# What it does: checks the binary runs on this machine, creates the `gatehouse` system
# user, /etc/gatehouse (a commented default config, never overwritten) and
# /var/lib/gatehouse (mode 0700), installs /usr/local/bin/gatehouse, the hardened unit,
# then enables and starts the service, waits until it answers and prints the one-time
# setup link from its log. The unit comes from systemd/ beside this script (a checkout
# or a release archive), or from GATEHOUSE_UNIT_URL.
set -euo pipefail

BIN=/usr/local/bin/gatehouse
CONFIG_DIR=/etc/gatehouse
DATA_DIR=/var/lib/gatehouse
UNIT=/etc/systemd/system/gatehouse.service
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() {
    echo "install.sh: $*" >&2
    exit 1
}

[[ $(id -u) -eq 0 ]] || die "run as root (sudo $0 $*)"
command -v systemctl >/dev/null || die "systemd is required (systemctl not found)"

architecture() {
    case "$(uname -m)" in
    x86_64 | amd64) echo x86_64 ;;
    aarch64 | arm64) echo aarch64 ;;
    armv7l | armv7 | armhf) echo armv7 ;;
    *) die "unsupported architecture $(uname -m): build gatehouse for it (packaging/README.md)" ;;
    esac
}

uninstall() {
    systemctl disable --now gatehouse.service 2>/dev/null || true
    rm -f "$UNIT" "$BIN"
    systemctl daemon-reload
    if [[ ${1:-} == --purge ]]; then
        rm -rf "$DATA_DIR" "$CONFIG_DIR"
        userdel gatehouse 2>/dev/null || true
        echo "gatehouse removed, with its data and configuration."
    else
        echo "gatehouse removed. Data kept in $DATA_DIR, configuration in $CONFIG_DIR" \
            "(--uninstall --purge removes them)."
    fi
}

if [[ ${1:-} == --uninstall ]]; then
    uninstall "${2:-}"
    exit 0
fi

arch="$(architecture)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --- the binary -----------------------------------------------------------------------
source="${1:-}"
if [[ -z $source ]]; then
    for candidate in "$HERE/gatehouse-$arch" "$HERE/gatehouse" "$HERE/../target/release/gatehouse"; do
        [[ -f $candidate ]] && source="$candidate" && break
    done
    [[ -n $source ]] || die "no binary given and none beside this script (gatehouse-$arch)"
fi
case "$source" in
http://* | https://*)
    command -v curl >/dev/null || die "curl is needed to download $source"
    curl -fsSL --proto '=https,http' -o "$work/gatehouse" "$source" || die "download failed: $source"
    ;;
*)
    [[ -f $source ]] || die "no such file: $source"
    cp "$source" "$work/gatehouse"
    ;;
esac
chmod 0755 "$work/gatehouse"
"$work/gatehouse" --version >/dev/null 2>&1 ||
    die "$source does not run here (built for another architecture than $arch?)"

# --- the unit -------------------------------------------------------------------------
unit_source=""
for candidate in "$HERE/../systemd/gatehouse.service" "$HERE/systemd/gatehouse.service"; do
    [[ -f $candidate ]] && unit_source="$candidate" && break
done
if [[ -z $unit_source ]]; then
    [[ -n ${GATEHOUSE_UNIT_URL:-} ]] ||
        die "systemd/gatehouse.service not found beside this script; set GATEHOUSE_UNIT_URL"
    curl -fsSL -o "$work/gatehouse.service" "$GATEHOUSE_UNIT_URL" || die "download failed: $GATEHOUSE_UNIT_URL"
    unit_source="$work/gatehouse.service"
fi

# --- user, directories, config --------------------------------------------------------
if ! id gatehouse >/dev/null 2>&1; then
    useradd --system --home-dir "$DATA_DIR" --no-create-home --shell /usr/sbin/nologin \
        --comment "gatehouse identity provider" gatehouse
fi
install -d -m 0755 "$CONFIG_DIR"
install -d -m 0700 -o gatehouse -g gatehouse "$DATA_DIR"
if [[ ! -f $CONFIG_DIR/gatehouse.toml ]]; then
    # The commented defaults beside this script (packaging/gatehouse.toml), else an
    # empty file: every setting has a default.
    if [[ -f $HERE/gatehouse.toml ]]; then
        cp "$HERE/gatehouse.toml" "$CONFIG_DIR/gatehouse.toml"
    else
        echo "# gatehouse configuration: see the README (\"Configuration\")." >"$CONFIG_DIR/gatehouse.toml"
    fi
    chmod 0644 "$CONFIG_DIR/gatehouse.toml"
fi

# --- install and (re)start ------------------------------------------------------------
upgrading=0
systemctl is-active --quiet gatehouse.service && upgrading=1
# Replace the file atomically: a running process keeps its old inode.
install -m 0755 "$work/gatehouse" "$BIN.new"
mv -f "$BIN.new" "$BIN"
sed "s#^ExecStart=/usr/bin/gatehouse#ExecStart=$BIN#" "$unit_source" >"$UNIT"
chmod 0644 "$UNIT"
systemctl daemon-reload
systemctl enable gatehouse.service >/dev/null
since="$(date '+%Y-%m-%d %H:%M:%S')"
if ((upgrading)); then
    systemctl restart gatehouse.service
else
    systemctl start gatehouse.service
fi

# Type=notify: `start` returns once gatehouse said READY=1; check it answers anyway.
for _ in $(seq 1 50); do
    "$BIN" --config "$CONFIG_DIR/gatehouse.toml" --data-dir "$DATA_DIR" healthcheck >/dev/null 2>&1 && break
    sleep 0.2
done
systemctl is-active --quiet gatehouse.service ||
    die "the service did not start; see: journalctl -u gatehouse -n 50"

outcome=installed
((upgrading)) && outcome=upgraded
echo "gatehouse $("$BIN" --version 2>/dev/null | awk '{print $NF}') is running ($outcome)."
link="$(journalctl -u gatehouse --since "$since" --no-pager -o cat 2>/dev/null |
    grep -o 'http[s]*://[^ ]*/if/flow/initial-setup/?token=[^ ]*' | tail -1 || true)"
if [[ -n $link ]]; then
    host="$(hostname -I 2>/dev/null | awk '{print $1}')"
    echo "Finish the setup (the link works once): ${link/localhost/${host:-localhost}}"
else
    echo "Setup was done before; sign in at http://$(hostname -I 2>/dev/null | awk '{print $1}'):9000/"
fi
echo "Logs: journalctl -u gatehouse -f    Config: $CONFIG_DIR/gatehouse.toml    Data: $DATA_DIR"

#!/bin/sh
# Install, upgrade or remove the fleetmon agent on this server. The fleetmon API serves this
# script and everything it installs, so the server needs only Python 3.9+ and fleetmon:
#
#   read -rs FLEETMON_ENROLL_TOKEN; export FLEETMON_ENROLL_TOKEN   # paste; not echoed
#   curl -fsSL https://fleetmon.example.com/install.sh \
#     | sudo --preserve-env=FLEETMON_ENROLL_TOKEN sh -s -- --url https://fleetmon.example.com
#
# Usage: install.sh --url URL [--token-stdin] [--name NAME] [--label k=v ...]
#                   [--ca-bundle PEM] [--python PYTHON] [--no-start]
#                   [--prefix DIR] [--config-dir DIR] [--state-dir DIR] [--unit-dir DIR]
#                   [--user NAME]
#        install.sh --uninstall [--prefix DIR ...]
#
# The enrollment token comes from $FLEETMON_ENROLL_TOKEN, from stdin (--token-stdin, when
# the script itself was not piped in), or from a prompt on the terminal; never from argv.
# Running it again upgrades the agent in place and keeps the configuration and the key.
# --uninstall stops the agent and removes the venv, the unit, the config, the state
# (spool and key) and the user this script created.
set -eu

PREFIX=/opt/fleetmon-agent
CONF_DIR=/etc/fleetmon
STATE_DIR=/var/lib/fleetmon-agent
UNIT_DIR=/etc/systemd/system
USER_NAME=fleetmon-agent
PYTHON=${PYTHON:-python3}
URL="" NAME="" CA_BUNDLE="" TOKEN="" TOKEN_STDIN=0 START=1 UNINSTALL=0 LABELS_FILE="" TMP=""

say() { echo "install.sh: $*"; }
die() { echo "install.sh: error: $*" >&2; exit 1; }

usage() { sed -n '2,21p' "$0" 2>/dev/null || echo "see https://<fleetmon>/install.sh"; }

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --url) URL=${2%/}; shift 2 ;;
            --token-stdin) TOKEN_STDIN=1; shift ;;
            --token) die "--token would show the token in ps and shell history: use \$FLEETMON_ENROLL_TOKEN or --token-stdin" ;;
            --name) NAME=$2; shift 2 ;;
            --label) printf '%s\n' "$2" >>"$LABELS_FILE"; shift 2 ;;
            --ca-bundle) CA_BUNDLE=$2; shift 2 ;;
            --python) PYTHON=$2; shift 2 ;;
            --prefix) PREFIX=$2; shift 2 ;;
            --config-dir) CONF_DIR=$2; shift 2 ;;
            --state-dir) STATE_DIR=$2; shift 2 ;;
            --unit-dir) UNIT_DIR=$2; shift 2 ;;
            --user) USER_NAME=$2; shift 2 ;;
            --no-start) START=0; shift ;;
            --uninstall) UNINSTALL=1; shift ;;
            -h|--help) usage; exit 0 ;;
            *) die "unknown argument: $1 (see --help)" ;;
        esac
    done
}

has_systemd() { command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; }

# GET a URL into a file with the interpreter the agent will use (no curl/wget needed).
fetch() {
    "$PYTHON" - "$1" "$2" "$CA_BUNDLE" <<'PY'
import ssl, sys, urllib.request
url, dest, ca = sys.argv[1:4]
try:
    ctx = ssl.create_default_context(cafile=ca or None)
    with urllib.request.urlopen(url, context=ctx, timeout=60) as r, open(dest, "wb") as f:
        f.write(r.read())
except Exception as exc:
    sys.exit(f"install.sh: error: cannot download {url}: {exc}")
PY
}

uninstall() {
    UNIT="$UNIT_DIR/fleetmon-agent.service"
    if has_systemd && [ -f "$UNIT" ]; then
        systemctl disable --now fleetmon-agent >/dev/null 2>&1 || true
    fi
    created_user=""
    if [ -f "$PREFIX/.created-user" ]; then created_user=$(cat "$PREFIX/.created-user"); fi
    rm -f "$UNIT"
    if has_systemd; then systemctl daemon-reload || true; fi
    rm -rf "$PREFIX" "$STATE_DIR"
    rm -f "$CONF_DIR/agent.yaml"
    rmdir "$CONF_DIR" 2>/dev/null || true
    if [ -n "$created_user" ] && id "$created_user" >/dev/null 2>&1; then
        userdel "$created_user" || say "could not remove user $created_user"
    fi
    say "fleetmon-agent removed ($PREFIX, $STATE_DIR, $CONF_DIR/agent.yaml, $UNIT)"
}

read_token() {
    if [ -z "$TOKEN" ] && [ "$TOKEN_STDIN" -eq 1 ]; then
        IFS= read -r TOKEN || true
    fi
    if [ -z "$TOKEN" ] && (: </dev/tty) 2>/dev/null; then
        printf 'fleetmon enrollment token (fleetmon create-enroll-token): ' >/dev/tty
        stty -echo </dev/tty 2>/dev/null || true
        IFS= read -r TOKEN </dev/tty || true
        stty echo </dev/tty 2>/dev/null || true
        echo >/dev/tty
    fi
    [ -n "$TOKEN" ] || die "this server is not enrolled yet and no enrollment token was given: \
set FLEETMON_ENROLL_TOKEN (sudo --preserve-env=FLEETMON_ENROLL_TOKEN ...) or pipe it to --token-stdin"
}

# Write the config from the server's example: server URL, spool under the state dir, CA.
write_config() {
    fetch "$URL/agent/agent.example.yaml" "$TMP/agent.yaml"
    "$PYTHON" - "$TMP/agent.yaml" "$URL" "$STATE_DIR/spool" "$CA_BUNDLE" <<'PY'
import json, sys
path, url, spool, ca = sys.argv[1:5]
out = []
section = None
for line in open(path).read().splitlines():
    if line and not line.startswith((" ", "#")):
        section = line.split(":", 1)[0]
    key = line.strip().split(":", 1)[0]
    value = {("server", "url"): url, ("spool", "dir"): spool, ("server", "ca_bundle"): ca}.get(
        (section, key) if line.startswith("  ") and not line.startswith("   ") else None
    )
    if value is not None:
        # A JSON string is a valid YAML scalar: no quoting mistakes whatever the value holds.
        line = f"  {key}: {json.dumps(value)}"
    out.append(line)
open(path, "w").write("\n".join(out) + "\n")
PY
    install -d -m 0755 "$CONF_DIR"
    install -m 0640 -g "$GROUP" "$TMP/agent.yaml" "$CONF"
}

install_unit() {
    fetch "$URL/agent/fleetmon-agent.service" "$TMP/unit"
    sed -e "s#/opt/fleetmon-agent#$PREFIX#g" -e "s#/etc/fleetmon/agent.yaml#$CONF#g" \
        -e "s#/var/lib/fleetmon-agent#$STATE_DIR#g" \
        -e "s#^User=.*#User=$USER_NAME#" -e "s#^Group=.*#Group=$GROUP#" "$TMP/unit" >"$TMP/unit.out"
    install -d -m 0755 "$UNIT_DIR"
    install -m 0644 "$TMP/unit.out" "$UNIT_DIR/fleetmon-agent.service"
}

main() {
    # Taken out of the environment at once: no child (pip, the agent) ever sees it, and the
    # agent refuses FLEETMON_* variables that are not its settings.
    TOKEN=${FLEETMON_ENROLL_TOKEN:-}
    unset FLEETMON_ENROLL_TOKEN
    LABELS_FILE=$(mktemp)
    TMP=$(mktemp -d)
    trap 'rm -rf "$TMP" "$LABELS_FILE"' EXIT
    parse_args "$@"
    [ "$(id -u)" -eq 0 ] || die "run as root (sudo): it creates a user, a venv and a service"
    CONF="$CONF_DIR/agent.yaml"
    if [ "$UNINSTALL" -eq 1 ]; then uninstall; return; fi
    [ -n "$URL" ] || die "--url is required: the fleetmon server, e.g. --url https://fleetmon.example.com"
    case "$URL" in http://*|https://*) ;; *) die "--url $URL: must start with http:// or https://" ;; esac
    case "$PREFIX$CONF_DIR$STATE_DIR$USER_NAME" in
        *'#'*|*'&'*|*'\'*) die "paths and the user name must not contain #, & or \\" ;;
    esac

    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found: install Python 3.9 or newer (apt-get install python3)"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 9))' \
        || die "$PYTHON is Python $("$PYTHON" -c 'import platform; print(platform.python_version())'); the agent needs 3.9 or newer"
    "$PYTHON" -c 'import venv' 2>/dev/null \
        || die "$PYTHON has no venv module: install it (Debian/Ubuntu: apt-get install python3-venv)"

    VENV="$PREFIX/venv"
    STATE_FILE="$STATE_DIR/state.json"
    enrolled=0
    if [ -s "$STATE_FILE" ] && grep -q '"api_key"' "$STATE_FILE" 2>/dev/null; then enrolled=1; fi
    if [ "$enrolled" -eq 0 ]; then read_token; fi
    upgrade=0
    if [ -x "$VENV/bin/fleetmon-agent" ]; then upgrade=1; fi

    # 1. A system user with no shell and no home of its own.
    if ! id "$USER_NAME" >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir "$STATE_DIR" \
            --shell /usr/sbin/nologin "$USER_NAME"
        install -d -m 0755 "$PREFIX"
        echo "$USER_NAME" >"$PREFIX/.created-user"
    fi
    GROUP=$(id -gn "$USER_NAME")

    # 2. The venv, created without pip: ensurepip is what python3-venv adds on Debian and
    #    Ubuntu; pip comes from the fleetmon server instead, like everything else.
    if [ ! -x "$VENV/bin/python" ]; then
        "$PYTHON" -m venv --without-pip "$VENV" \
            || die "$PYTHON -m venv failed: install the venv module (Debian/Ubuntu: apt-get install python3-venv) and run this again"
    fi
    fetch "$URL/agent/pip.whl" "$TMP/pip.whl"
    set -- --no-index --find-links "$URL/agent/wheels/" --disable-pip-version-check --quiet
    if [ -n "$CA_BUNDLE" ]; then set -- "$@" --cert "$CA_BUNDLE"; fi
    "$VENV/bin/python" "$TMP/pip.whl/pip" install "$@" --upgrade pip fleetmon-agent </dev/null \
        || die "installing the agent from $URL/agent/wheels/ failed (see pip's message above)"

    # 3. Config (kept on upgrade) and state dir (spool + enrolled key, 0700).
    if [ ! -f "$CONF" ]; then write_config; fi
    install -d -m 0700 -o "$USER_NAME" -g "$GROUP" "$STATE_DIR"
    runuser -u "$USER_NAME" -- "$VENV/bin/fleetmon-agent" -c "$CONF" check-config >/dev/null </dev/null \
        || die "the agent refuses $CONF (see its message above)"

    # 4. Enroll: the token on stdin; the key lands in the state file, mode 0600.
    if [ "$enrolled" -eq 0 ]; then
        set -- -c "$CONF" enroll --server "$URL" --token-stdin
        if [ -n "$NAME" ]; then set -- "$@" --name "$NAME"; fi
        while IFS= read -r label; do set -- "$@" --label "$label"; done <"$LABELS_FILE"
        printf '%s\n' "$TOKEN" | runuser -u "$USER_NAME" -- "$VENV/bin/fleetmon-agent" "$@" \
            || die "enrollment failed (see the agent's message above)"
    fi

    # 5. The service.
    if has_systemd; then
        install_unit
        systemctl daemon-reload
        if [ "$upgrade" -eq 1 ]; then
            systemctl try-restart fleetmon-agent
            say "fleetmon-agent upgraded: $("$VENV/bin/fleetmon-agent" --version)"
        elif [ "$START" -eq 1 ]; then
            systemctl enable --now fleetmon-agent
            say "fleetmon-agent installed and started: journalctl -u fleetmon-agent -f"
        else
            say "fleetmon-agent installed: systemctl enable --now fleetmon-agent"
        fi
    else
        say "fleetmon-agent $( [ "$upgrade" -eq 1 ] && echo upgraded || echo installed ): \
$("$VENV/bin/fleetmon-agent" --version)"
        say "systemd is not running here, so no service was set up. Run the agent under \
your init system or supervisor, as $USER_NAME:"
        echo "  runuser -u $USER_NAME -- $VENV/bin/fleetmon-agent -c $CONF run"
    fi
}

# Everything runs from main, called on the last line: with `curl ... | sh`, the shell has
# read the whole script before any command can read (and eat) the rest of it from stdin.
main "$@"

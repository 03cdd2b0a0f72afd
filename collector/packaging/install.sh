#!/bin/sh
# Install the fleetmon agent on this host:
#   venv under /opt/fleetmon-agent, config in /etc/fleetmon/agent.yaml, systemd unit,
#   a dedicated non-root user, and (given --server and --token) enrollment.
#
# Usage: sudo ./install.sh [--server URL --token TOKEN] [--name NAME] [--label k=v ...]
#                          [--source DIR_OR_WHEEL] [--python PYTHON] [--no-start]
set -eu

PREFIX=/opt/fleetmon-agent
CONF_DIR=/etc/fleetmon
CONF="$CONF_DIR/agent.yaml"
STATE_DIR=/var/lib/fleetmon-agent
USER_NAME=fleetmon-agent
HERE=$(cd "$(dirname "$0")" && pwd)
SOURCE=$(dirname "$HERE")          # the collector/ directory this script ships in
PYTHON=${PYTHON:-python3}
SERVER="" TOKEN="" NAME="" LABELS="" START=1

die() { echo "install.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --server) SERVER=$2; shift 2 ;;
        --token) TOKEN=$2; shift 2 ;;
        --name) NAME=$2; shift 2 ;;
        --label) LABELS="$LABELS --label $2"; shift 2 ;;
        --source) SOURCE=$2; shift 2 ;;
        --python) PYTHON=$2; shift 2 ;;
        --no-start) START=0; shift ;;
        -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
        *) die "unknown argument: $1" ;;
    esac
done

[ "$(id -u)" -eq 0 ] || die "run as root (it creates a user, a venv and a systemd unit)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 9))' \
    || die "$PYTHON is older than Python 3.9"
if [ -n "$TOKEN" ] && [ -z "$SERVER" ]; then die "--token needs --server"; fi

# 1. A system user with no shell and no home of its own.
if ! id "$USER_NAME" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir "$STATE_DIR" \
        --shell /usr/sbin/nologin "$USER_NAME"
fi

# 2. The venv: only the agent and its four dependencies.
"$PYTHON" -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install --quiet --upgrade "$SOURCE"

# 3. Config (never overwritten) and state dir (spool + enrolled key, 0700).
install -d -m 0755 "$CONF_DIR"
if [ ! -f "$CONF" ]; then
    install -m 0640 -g "$USER_NAME" "$HERE/../agent.example.yaml" "$CONF"
    if [ -n "$SERVER" ]; then
        sed -i "s#^  url: .*#  url: $SERVER#" "$CONF"
    fi
fi
install -d -m 0700 -o "$USER_NAME" -g "$USER_NAME" "$STATE_DIR"
"$PREFIX/venv/bin/fleetmon-agent" -c "$CONF" check-config >/dev/null

# 4. Enroll: the key goes to $STATE_DIR/state.json, mode 0600, owned by the agent's user.
if [ -n "$TOKEN" ]; then
    # shellcheck disable=SC2086  # LABELS is a list of --label k=v words
    runuser -u "$USER_NAME" -- "$PREFIX/venv/bin/fleetmon-agent" -c "$CONF" enroll \
        --server "$SERVER" --token "$TOKEN" ${NAME:+--name "$NAME"} $LABELS
fi

# 5. The service.
install -m 0644 "$HERE/fleetmon-agent.service" /etc/systemd/system/fleetmon-agent.service
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    if [ "$START" -eq 1 ]; then
        systemctl enable --now fleetmon-agent
        echo "fleetmon-agent installed and started: journalctl -u fleetmon-agent -f"
    else
        echo "fleetmon-agent installed: systemctl enable --now fleetmon-agent"
    fi
else
    echo "fleetmon-agent installed (no systemd here: run $PREFIX/venv/bin/fleetmon-agent run)"
fi

#!/bin/sh
# Build the agent distribution the fleetmon API serves to installers (/install.sh, /agent/):
#   DEST/wheels/   the agent's wheel, the wheels of its dependencies for every supported
#                  CPython on glibc Linux (x86_64, aarch64), and pip's
#   DEST/pip.whl   pip, which bootstraps a venv on servers without python3-venv/ensurepip
#   DEST/install.sh, DEST/fleetmon-agent.service, DEST/agent.example.yaml
#
# Usage: deploy/agent-dist.sh DEST [--python X.Y ...] [--platform TAG ...]
#   defaults: --python 3.9 3.10 3.11 3.12 3.13, --platform manylinux2014_x86_64
#   manylinux2014_aarch64. Needs network access to the package index (this runs at image
#   build time, or `make agent-dist`); PIP names the pip to use (default: python3 -m pip).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PIP=${PIP:-python3 -m pip}
PYTHONS="" PLATFORMS=""

die() { echo "agent-dist.sh: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: deploy/agent-dist.sh DEST [--python X.Y ...] [--platform TAG ...]"
DEST=$1; shift
while [ $# -gt 0 ]; do
    case "$1" in
        --python) PYTHONS="$PYTHONS $2"; shift 2 ;;
        --platform) PLATFORMS="$PLATFORMS $2"; shift 2 ;;
        *) die "unknown argument: $1" ;;
    esac
done
PYTHONS=${PYTHONS:-3.9 3.10 3.11 3.12 3.13}
PLATFORMS=${PLATFORMS:-manylinux2014_x86_64 manylinux2014_aarch64}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/wheels"

# The agent itself, from this checkout.
$PIP wheel --quiet --no-deps --wheel-dir "$WORK/wheels" "$ROOT/collector"
AGENT=$(ls "$WORK"/wheels/fleetmon_agent-*.whl)

# Its dependencies (and pip), binary only, resolved for each target interpreter. The agent
# is named by its file, so no index can substitute a package of the same name.
for py in $PYTHONS; do
    for platform in $PLATFORMS; do
        $PIP download --quiet --dest "$WORK/wheels" --only-binary=:all: \
            --implementation cp --python-version "$py" --platform "$platform" \
            "$AGENT" pip
    done
done

# The bootstrap pip runs on every target interpreter: the oldest one downloaded is the one
# resolved for the oldest Python. (In the venv, pip then upgrades itself to the newest that
# interpreter supports.)
cp "$(ls "$WORK"/wheels/pip-*.whl | sort -V | head -n 1)" "$WORK/pip.whl"
cp "$ROOT/collector/packaging/install.sh" "$ROOT/collector/packaging/fleetmon-agent.service" \
    "$ROOT/collector/agent.example.yaml" "$WORK/"

# Swap in the new distribution whole, so a running server never serves half of one.
mkdir -p "$DEST"
rm -rf "$DEST/wheels.new"
mv "$WORK/wheels" "$DEST/wheels.new"
for f in pip.whl install.sh fleetmon-agent.service agent.example.yaml; do
    mv "$WORK/$f" "$DEST/$f"
done
rm -rf "$DEST/wheels.old"
if [ -d "$DEST/wheels" ]; then mv "$DEST/wheels" "$DEST/wheels.old"; fi
mv "$DEST/wheels.new" "$DEST/wheels"
rm -rf "$DEST/wheels.old"
echo "agent distribution in $DEST: $(ls "$DEST/wheels" | wc -l) wheels"

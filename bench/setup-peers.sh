#!/bin/sh
# Installs the peers `npm run bench` measures against, from Debian packages, when they are missing:
#   train: liblinear-tools (liblinear-train, liblinear-predict), python3-sklearn (for /usr/bin/python3), time
#   serve: wrk
# Idempotent: checks first and runs apt-get only for what is missing. Needs root (or passwordless sudo) and the
# network only then. Usage: bench/setup-peers.sh [train|serve|all]   (default all)
set -eu

what=${1:-all}
missing=""
if [ "$what" = train ] || [ "$what" = all ]; then
  command -v liblinear-train >/dev/null 2>&1 || command -v train >/dev/null 2>&1 || missing="$missing liblinear-tools"
  # Debian's Python packages are seen by the system interpreter, not by a pyenv/venv python3 earlier on PATH.
  /usr/bin/python3 -c 'import sklearn' >/dev/null 2>&1 || missing="$missing python3-sklearn"
  [ -x /usr/bin/time ] || missing="$missing time"
fi
if [ "$what" = serve ] || [ "$what" = all ]; then
  command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
fi

if [ -z "$missing" ]; then
  echo "peers ($what): all installed"
  exit 0
fi
echo "peers ($what): installing$missing"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "peers: apt-get is not available; install$missing by other means" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo="sudo -n"
else
  echo "peers: not root and no passwordless sudo; run as root: apt-get install -y$missing" >&2
  exit 1
fi
$sudo apt-get update -qq
# shellcheck disable=SC2086 # word splitting of the package list is intended
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing

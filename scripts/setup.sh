#!/usr/bin/env bash
# Prepare a checkout: Python virtualenv with the dependencies, the frontend
# bundle, and the database schema. Safe to run again; it only redoes what changed.
# Usage: scripts/setup.sh [--dev]   (--dev adds the test tools)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
requirements=requirements.txt
[ "${1:-}" = "--dev" ] && requirements=requirements-dev.txt

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
fi
# Reinstall only when the requirements file changed since the last install.
stamp=".venv/.installed-$(basename "$requirements")"
if [ ! -f "$stamp" ] || [ "$requirements" -nt "$stamp" ] || [ requirements.txt -nt "$stamp" ]; then
  .venv/bin/pip install --quiet -r "$requirements"
  touch "$stamp"
fi

if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq nodejs npm
  else
    echo "npm is required to build the frontend: install Node.js 20+ and npm." >&2
    exit 1
  fi
fi
# Workspace processes run inside bubblewrap when it works here (docs/architecture.md, Isolation).
if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
  else
    echo "warning: bubblewrap is missing (apt-get install bubblewrap): workspace processes will run unsandboxed." >&2
  fi
fi
# Quick open and search across files run ripgrep in the workspace (workspaces/search.py).
if ! command -v rg >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ripgrep >/dev/null
  else
    echo "warning: ripgrep is missing (apt-get install ripgrep): quick open and search will not work." >&2
  fi
fi

if [ ! -d frontend/node_modules ] || [ frontend/package-lock.json -nt frontend/node_modules ]; then
  npm ci --prefix frontend --no-audit --no-fund --loglevel=error
  touch frontend/node_modules
fi
npm run --prefix frontend --silent build

#!/usr/bin/env bash
# Set up and run the whole test suite. Extra arguments go to pytest.
# With DATABASE_URL / REDIS_URL set, the same suite runs against Postgres and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
# Also installs bubblewrap (as root, with apt-get): the suite runs workspace
# processes in the sandbox, as the default settings do.
scripts/setup.sh --dev

# Browser tests drive Debian's Chromium; Playwright cannot download browsers here.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "warning: /usr/bin/chromium is missing (apt-get install chromium); browser tests will be skipped." >&2
  fi
fi

exec .venv/bin/python -m pytest "$@"

#!/usr/bin/env bash
# The browser tests (test/browser) drive Debian's Chromium (test/helpers/browser.ts); no browser download works
# here. `npm test` runs this first: a machine without Chromium gets it, and one that cannot fails loudly rather
# than skipping the browser tests.
set -uo pipefail
if [ -n "${CHROMIUM_PATH:-}" ] || command -v chromium >/dev/null 2>&1; then exit 0; fi
echo "Installing Chromium for the browser tests (apt-get install -y chromium)…"
as_root() {
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then set -- sudo "$@"; fi
  env DEBIAN_FRONTEND=noninteractive "$@"
}
# Without `apt-get update` first when the package lists already know chromium; with it when they do not.
as_root apt-get install -y -qq chromium >/dev/null 2>&1 ||
  { as_root apt-get update -qq >/dev/null && as_root apt-get install -y -qq chromium >/dev/null; }
if ! command -v chromium >/dev/null 2>&1; then
  echo "Could not install Chromium; the browser tests cannot run. Install it (apt-get install -y chromium) or set CHROMIUM_PATH." >&2
  exit 1
fi

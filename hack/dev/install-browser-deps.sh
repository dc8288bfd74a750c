#!/usr/bin/env bash
# Installs what the browser tests and `make dev`'s browser need, each only when missing:
# Debian's chromium-headless-shell (the browser), chromium-driver (chromedriver, for Selenium),
# and nodejs and npm (for test/clients). Only on Debian or Ubuntu as root; elsewhere it says what
# to install and exits 0, and the tests that need a missing piece skip, saying so.
set -uo pipefail

missing=()
[ -x /usr/lib/chromium/chromium-headless-shell ] || command -v chromium-headless-shell >/dev/null || missing+=(chromium-headless-shell)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ ! -f /etc/debian_version ] || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "browser-deps: missing ${missing[*]}: install them (Debian/Ubuntu package names) for the browser tests; they skip without them" >&2
  exit 0
fi
echo "browser-deps: installing ${missing[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "${missing[@]}" >/tmp/browser-deps-apt.log 2>&1; then
  apt-get update >>/tmp/browser-deps-apt.log 2>&1
  if ! apt-get install -y --no-install-recommends "${missing[@]}" >>/tmp/browser-deps-apt.log 2>&1; then
    echo "browser-deps: apt-get install ${missing[*]} failed (log in /tmp/browser-deps-apt.log); the browser tests will skip what needs them" >&2
    tail -5 /tmp/browser-deps-apt.log >&2
  fi
fi
exit 0

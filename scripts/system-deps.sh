#!/usr/bin/env bash
# Install the system packages the project needs but pip cannot provide, only if they are missing.
#   system-deps.sh python     python3 + venv (make lab, make test)
#   system-deps.sh node       nodejs + npm (make test: the TF.js compatibility tests)
#   system-deps.sh browser    Chromium (make test: the browser tests)
# Chromium is looked for where distributions put it, in the order tests/browser/harness.py uses:
# $CHROMIUM, chromium/chromium-browser on PATH (Debian's package, Ubuntu's snap /snap/bin/chromium),
# /usr/bin/chromium, /snap/bin/chromium, Playwright's own build. Missing: apt-get with root or sudo,
# else Playwright's build (`playwright install chromium`) where it can be downloaded.
set -euo pipefail

want=("${@:-python}")
missing=()
need() { case " ${want[*]} " in *" $1 "*) return 0;; *) return 1;; esac; }

find_chromium() {
  local c
  for c in "${CHROMIUM:-}" "$(command -v chromium || true)" "$(command -v chromium-browser || true)" \
      /usr/bin/chromium /snap/bin/chromium \
      "${PLAYWRIGHT_BROWSERS_PATH:-$HOME/.cache/ms-playwright}"/chromium-*/chrome-linux*/chrome; do
    [ -n "$c" ] && [ -x "$c" ] && { echo "$c"; return 0; }
  done
  return 1
}

if need python; then
  command -v python3 >/dev/null || missing+=(python3)
  python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
fi
if need node; then
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
fi
if need browser && ! find_chromium >/dev/null; then
  missing+=(chromium)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then sudo=(); elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo=(sudo)
else
  sudo=(none)
fi
if [ "${sudo[*]}" != none ] && command -v apt-get >/dev/null; then
  echo "Installing Debian packages: ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
  exit 0
fi
if [ "${missing[*]}" = chromium ] && [ -x .venv/bin/playwright ]; then
  echo "No root for apt-get: installing Playwright's own Chromium build" >&2
  exec .venv/bin/playwright install chromium
fi
echo "error: need root or sudo to install: ${missing[*]} (apt-get install ${missing[*]})" >&2
exit 1

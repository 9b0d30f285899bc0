#!/usr/bin/env bash
# Install the Debian packages the project needs but pip cannot provide, only if they are missing.
#   system-deps.sh            everything (browser tests need chromium)
#   system-deps.sh python     python3 + venv
#   system-deps.sh node       nodejs + npm (TF.js compatibility tests)
set -euo pipefail

want=("${@:-all}")
missing=()
need() { case " ${want[*]} " in *" all "*|*" $1 "*) return 0;; *) return 1;; esac; }

if need python; then
  command -v python3 >/dev/null || missing+=(python3)
  python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
fi
if need node; then
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
fi
if need all; then
  [ -x /usr/bin/chromium ] || missing+=(chromium)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing Debian packages: ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
  echo "error: need root or sudo to install: ${missing[*]} (apt-get install ${missing[*]})" >&2
  exit 1
fi
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

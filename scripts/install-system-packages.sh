#!/usr/bin/env bash
# Install the Debian/Ubuntu packages SIGAP needs, if any are missing. Idempotent.
# As root: runs `apt-get update` once, then `apt-get install`. Otherwise prints the sudo line.
set -euo pipefail

wanted=(postgresql-15-postgis-3 postgresql-15-pgrouting chromium wrk)
command -v npm >/dev/null 2>&1 || wanted+=(npm)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || wanted+=(python3-venv)

missing=()
for pkg in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "SIGAP needs these system packages. Install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"

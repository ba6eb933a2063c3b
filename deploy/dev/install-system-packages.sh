#!/usr/bin/env bash
# Install the Debian packages listed in system-packages.txt that are not installed yet.
# Needs root (or passwordless sudo); prints what is missing and fails otherwise.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
missing=()
while read -r pkg; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < "$here/system-packages.txt"
[[ ${#missing[@]} -eq 0 ]] && exit 0
echo "system-deps: installing ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then sudo=(); elif sudo -n true 2>/dev/null; then sudo=(sudo -n); else
  echo "system-deps: need root to install: ${missing[*]}" >&2; exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q >/dev/null || "${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Installs the Debian font packages the synthetic generator prefers, when it can (root + apt).
# Without them ocdr still works: it falls back to fonts bundled with Pillow/OpenCV.
missing=()
for pkg in "$@"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing fonts: ${missing[*]}"
  (apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; }) \
    || echo "warning: could not install fonts (${missing[*]}); synthetic data will use fallback fonts"
else
  echo "note: fonts ${missing[*]} not installed (needs root + apt); synthetic data will use fallback fonts"
fi
exit 0

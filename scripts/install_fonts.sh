#!/usr/bin/env bash
# Installs Debian packages (the fonts the synthetic generator prefers; peers for benchmarks), when it can (root + apt).
# Without them ocdr still works: it falls back to fonts bundled with Pillow/OpenCV.
missing=()
for pkg in "$@"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages: ${missing[*]}"
  (apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; }) \
    || echo "warning: could not install ${missing[*]} (fonts: synthetic data uses fallback fonts; peers: benchmarks skip them)"
else
  echo "note: ${missing[*]} not installed (needs root + apt): fonts fall back to bundled ones, benchmarks skip missing peers"
fi
exit 0

#!/usr/bin/env bash
# Install Debian's headless-capable Chromium for tests/test_reports_html.py (the rendered-DOM
# check of the HTML report). Idempotent: does nothing when a chromium binary is on PATH.
# .ci/run calls it before pytest; the test calls it too when chromium is missing.
#
# Exit status: 0 installed or already present; 3 installation impossible here (not root and
# no passwordless sudo, or no apt-get); anything else: apt-get failed (e.g. no network).
set -euo pipefail

for name in chromium chromium-browser google-chrome; do
    if command -v "$name" >/dev/null 2>&1; then
        echo "setup_chromium: $(command -v "$name") already installed"
        exit 0
    fi
done

if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup_chromium: no apt-get here: install chromium by hand" >&2
    exit 3
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "setup_chromium: not root and no passwordless sudo: cannot install chromium" >&2
    exit 3
fi

export DEBIAN_FRONTEND=noninteractive
start=$(date +%s)
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
echo "setup_chromium: chromium installed in $(( $(date +%s) - start ))s: $(command -v chromium)"

#!/usr/bin/env bash
# Run before the tests (npm's pretest, and .ci/run): the browser test drives Debian's chromium
# through playwright-core, which downloads no browser. Install it when it is missing.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
echo "ensure-chromium: /usr/bin/chromium is missing; the dashboard's browser test needs it."
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: no apt-get here: install Chromium so that /usr/bin/chromium exists, then run the tests again." >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "ensure-chromium: run as root, or install Debian's chromium package first." >&2; exit 1; }
  sudo="sudo"
fi
echo "ensure-chromium: installing Debian's chromium package (apt-get install chromium)..."
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
echo "ensure-chromium: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)."

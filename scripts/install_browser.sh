#!/usr/bin/env bash
# Debian's chromium for the Playwright browser test (tests/test_demo_browser.py).
# `playwright install` cannot download its own browser builds on this project's machines, so the
# test drives /usr/bin/chromium from the distribution instead. Idempotent; needs root (or sudo).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
nice -n 19 $SUDO apt-get update -q
nice -n 19 $SUDO apt-get install -y -q chromium
test -x /usr/bin/chromium

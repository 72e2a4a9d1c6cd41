#!/usr/bin/env bash
# Headless Chromium (Debian's package) for the report's browser test; Playwright's Python client drives it.
# Skipped quietly where it is already there; a failure leaves the browser test to skip with its reason.
set -u
command -v chromium >/dev/null 2>&1 && exit 0
if command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "install_browser: could not install chromium; browser tests will be skipped"
fi
exit 0

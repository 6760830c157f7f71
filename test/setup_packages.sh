#!/usr/bin/env bash
# Debian packages the tests need, installed when missing (run by test/run.sh; idempotent, quiet when
# everything is there). Tests start their own throw-away servers from these binaries; no system
# service is started here.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# The dev identity provider's login page is checked in a real browser (test/idp_browser_test.ts).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "test/setup_packages.sh: ${missing[*]} missing and not running as root;" \
    "install with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "test/setup_packages.sh: ${missing[*]} missing and apt-get is not available; install it by hand" >&2
  exit 1
fi
echo "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d 101 keeps the package's post-install from starting a system redis-server.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  created_policy=1
fi
status=0
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
[ "$created_policy" -eq 1 ] && rm -f "$policy"
if [ "$status" -ne 0 ]; then
  echo "test/setup_packages.sh: apt-get install ${missing[*]} failed (exit $status)" >&2
  exit 1
fi
for binary in redis-server chromium; do
  command -v "$binary" >/dev/null 2>&1 || {
    echo "test/setup_packages.sh: $binary is still not on PATH after installing" >&2
    exit 1
  }
done

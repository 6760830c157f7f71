#!/usr/bin/env bash
# The one test command (`deno task test`): installs or builds what the tests need, reusing caches,
# runs every test, and ends with the line `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
DENO="$(command -v deno)"
mkdir -p .cache

step() { printf '\n==> %s\n' "$*"; }
setup_failed() {
  echo "setup failed: $*" >&2
  echo "0 passed, 1 failed"
  exit 1
}

step "npm dependencies (deno.lock)"
"$DENO" install --frozen || setup_failed "deno install --frozen"

if [ -x test/cluster/build.sh ]; then
  step "test cluster binaries (etcd, kube-apiserver, kubectl, test-kubelet)"
  test/cluster/build.sh || setup_failed "test/cluster/build.sh"
fi

if [ -x test/opa/build.sh ]; then
  step "opa (Open Policy Agent, for AuthPolicy rego rules)"
  test/opa/build.sh || setup_failed "test/opa/build.sh"
fi

if [ -x test/setup_packages.sh ]; then
  step "Debian packages the tests need"
  test/setup_packages.sh || setup_failed "test/setup_packages.sh"
fi

step "deno test"
rm -f .cache/junit.xml
"$DENO" test -A --parallel --junit-path=.cache/junit.xml "$@"
status=$?
"$DENO" run --allow-read test/summary.ts .cache/junit.xml "$status"

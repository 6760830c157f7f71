#!/usr/bin/env bash
# Builds Open Policy Agent's `opa` command into test/opa/bin/opa from the module version pinned in
# go.mod, for the tests that evaluate AuthPolicy rego rules with the real OPA. Idempotent: does nothing
# when bin/.stamp matches the hash of the pins, the sources, this script and the Go version.
#
#   test/opa/build.sh            build when missing or stale
#   test/opa/build.sh --force    rebuild
#   BUILD_P=1 test/opa/build.sh  go build -p (default 2; the machine has 2 cores)
set -euo pipefail

# Go lives in /usr/local/go on these machines; a non-login shell may not have it on PATH.
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || { echo "test/opa: Go is required to build opa (go not found)" >&2; exit 1; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
bin="$here/bin"
mkdir -p "$bin"

# One build at a time: concurrent test files may all call this.
exec 9>"$bin/.lock"
flock 9

force=0
[[ "${1:-}" == "--force" ]] && force=1

stamp="$(
  {
    go version
    cat go.mod go.sum build.sh
    find cmd -name '*.go' -print0 | sort -z | xargs -0 cat
  } | sha256sum | cut -d' ' -f1
)"

if [[ $force == 0 && -x "$bin/opa" && -f "$bin/.stamp" && "$(cat "$bin/.stamp")" == "$stamp" ]]; then
  echo "test/opa: opa up to date (stamp ${stamp:0:12})"
  exit 0
fi

export GOFLAGS="-buildvcs=false -mod=readonly"
p="${BUILD_P:-2}"
version="$(go list -m -f '{{.Version}}' github.com/open-policy-agent/opa)"
echo "test/opa: building opa $version (go build -p $p)"
rm -f "$bin/.stamp"
start=$(date +%s)
nice go build -p "$p" -trimpath -ldflags="-s -w" -o "$bin/.opa.tmp" ./cmd/opa
mv "$bin/.opa.tmp" "$bin/opa"
echo "test/opa: built bin/opa in $(($(date +%s) - start))s ($(du -h "$bin/opa" | cut -f1))"

echo "$stamp" >"$bin/.stamp"
echo "test/opa: done (stamp ${stamp:0:12})"

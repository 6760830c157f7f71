#!/usr/bin/env bash
# Builds the test cluster's binaries into test/cluster/bin/ from the modules pinned in go.mod, and
# copies the pinned CRD manifests (crdsrc/go.mod) into bin/crds/. Idempotent: does nothing when
# bin/.stamp matches the hash of the pins, the sources, this script and the Go version.
#
#   test/cluster/build.sh            build what is missing or stale
#   test/cluster/build.sh --force    rebuild everything
#   BUILD_P=1 test/cluster/build.sh  go build -p (default 2; the machine has 2 cores)
set -euo pipefail

# Go lives in /usr/local/go on these machines; a non-login shell may not have it on PATH.
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || { echo "test/cluster: Go is required to build the test cluster (go not found)" >&2; exit 1; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
bin="$here/bin"
mkdir -p "$bin"

# One build at a time: concurrent test files may all call this.
exec 9>"$bin/.lock"
flock 9

force=0
[[ "${1:-}" == "--force" ]] && force=1

binaries=(etcd kube-apiserver kube-controller-manager kubectl test-kubelet testenv)

stamp="$(
  {
    go version
    cat go.mod go.sum crdsrc/go.mod crdsrc/go.sum build.sh
    find cmd -name '*.go' -print0 | sort -z | xargs -0 cat
  } | sha256sum | cut -d' ' -f1
)"

complete=1
for b in "${binaries[@]}"; do [[ -x "$bin/$b" ]] || complete=0; done
[[ -d "$bin/crds" ]] || complete=0
if [[ $force == 0 && $complete == 1 && -f "$bin/.stamp" && "$(cat "$bin/.stamp")" == "$stamp" ]]; then
  echo "test/cluster: binaries up to date (stamp ${stamp:0:12})"
  exit 0
fi

export GOFLAGS="-buildvcs=false -mod=readonly"
p="${BUILD_P:-2}"
k8s_version="$(go list -m -f '{{.Version}}' k8s.io/kubernetes)"
minor="${k8s_version#v1.}"
minor="${minor%%.*}"
vpkg=k8s.io/component-base/version
ldflags="-s -w -X $vpkg.gitVersion=$k8s_version -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor"
ldflags+=" -X $vpkg.gitTreeState=clean -X $vpkg.buildDate=1970-01-01T00:00:00Z"

echo "test/cluster: building ${binaries[*]} (kubernetes $k8s_version, go build -p $p)"
rm -f "$bin/.stamp"
for b in "${binaries[@]}"; do
  start=$(date +%s)
  nice go build -p "$p" -trimpath -ldflags="$ldflags" -o "$bin/.$b.tmp" "./cmd/$b"
  mv "$bin/.$b.tmp" "$bin/$b"
  echo "test/cluster: built bin/$b in $(($(date +%s) - start))s ($(du -h "$bin/$b" | cut -f1))"
done

# CRD manifests, read out of the module cache (downloaded and checked against crdsrc/go.sum).
rm -rf "$bin/crds.tmp"
mkdir -p "$bin/crds.tmp"
gateway_dir="$(cd crdsrc && go mod download -json sigs.k8s.io/gateway-api | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
kuadrant_dir="$(cd crdsrc && go mod download -json github.com/kuadrant/kuadrant-operator | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
[[ -d "$gateway_dir" && -d "$kuadrant_dir" ]] || { echo "test/cluster: CRD modules not found" >&2; exit 1; }
# Only the CRDs of the standard channel; its ValidatingAdmissionPolicy (vap_safeupgrades) is left out.
for f in "$gateway_dir"/config/crd/standard/gateway.networking.k8s.io_*.yaml; do
  [[ "$f" == *vap* ]] || cp "$f" "$bin/crds.tmp/"
done
cp "$kuadrant_dir"/config/crd/bases/kuadrant.io_authpolicies.yaml \
  "$kuadrant_dir"/config/crd/bases/kuadrant.io_ratelimitpolicies.yaml "$bin/crds.tmp/"
chmod -R u+w "$bin/crds.tmp"
rm -rf "$bin/crds"
mv "$bin/crds.tmp" "$bin/crds"
echo "test/cluster: copied $(ls "$bin/crds" | wc -l) CRD manifests to bin/crds ($(cd crdsrc && go list -m -f '{{.Path}}@{{.Version}}' sigs.k8s.io/gateway-api github.com/kuadrant/kuadrant-operator | tr '\n' ' '))"

echo "$stamp" >"$bin/.stamp"
echo "test/cluster: done (stamp ${stamp:0:12})"

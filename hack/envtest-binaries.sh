#!/usr/bin/env bash
# Builds the control-plane binaries envtest needs (kube-apiserver, etcd, kubectl), and the
# kube-controller-manager that internal/localenv runs for make dev, from source through the Go
# module proxy, because no download site (setup-envtest's bucket, dl.k8s.io,
# GitHub releases) is reachable from our build machines. The binaries land in setup-envtest's
# store layout, so KUBEBUILDER_ASSETS can point at them and later runs reuse them.
#
# Usage: hack/envtest-binaries.sh        prints the asset directory on stdout (logs go to stderr)
# Env:   ENVTEST_K8S_VERSION (1.37.2), ENVTEST_ETCD_VERSION (3.6.16), ENVTEST_STORE
set -euo pipefail

K8S_VERSION="${ENVTEST_K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ENVTEST_ETCD_VERSION:-3.6.16}"
STAGING_VERSION="v0.${K8S_VERSION#1.}"
STORE="${ENVTEST_STORE:-${XDG_DATA_HOME:-$HOME/.local/share}/kubebuilder-envtest}"
GOOS="$(go env GOOS)"
GOARCH="$(go env GOARCH)"
ASSETS="${STORE}/k8s/${K8S_VERSION}-${GOOS}-${GOARCH}"

log() { echo "envtest-binaries: $*" >&2; }

BINARIES=(etcd kube-apiserver kubectl kube-controller-manager)
# missing lists the binaries not built yet; a store from before kube-controller-manager was
# added gets only that one built.
missing() {
  local bin
  for bin in "${BINARIES[@]}"; do
    [[ -x "${ASSETS}/${bin}" ]] || echo "${bin}"
  done
}

if [[ -z "$(missing)" ]]; then
  echo "${ASSETS}"
  exit 0
fi

# Go 1.26 refuses to build with GOFLAGS=-mod=vendor or a workspace from the caller's project.
export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0
WORK="$(mktemp -d)"
trap 'rm -rf "${WORK}"' EXIT
mkdir -p "${ASSETS}"
# Two runs at once (make test beside make dev) would build into the same .tmp files: the second
# waits for the first, then finds the binaries built.
if command -v flock >/dev/null; then
  exec 9>"${ASSETS}/.build.lock"
  flock 9
  if [[ -z "$(missing)" ]]; then
    echo "${ASSETS}"
    exit 0
  fi
fi

# build_kubernetes builds the named commands of k8s.io/kubernetes (kube-apiserver, kubectl,
# kube-controller-manager), all from one module so that they share dependency versions.
build_kubernetes() {
  local dir="${WORK}/kubernetes"
  mkdir -p "${dir}"
  log "building $* v${K8S_VERSION} (first run takes several minutes)"
  (
    cd "${dir}"
    go mod init envtest-binaries/kubernetes >/dev/null 2>&1
    # k8s.io/kubernetes points its k8s.io/* staging modules at ./staging; outside its own tree
    # they must be replaced by the published staging modules of the matching version.
    local gomod
    gomod="$(go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
    sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/.*#\1#p' "${gomod}" | while read -r mod; do
      go mod edit -replace "${mod}=${mod}@${STAGING_VERSION}"
    done
    go get "k8s.io/kubernetes/cmd/kube-apiserver@v${K8S_VERSION}" "k8s.io/kubernetes/cmd/kubectl@v${K8S_VERSION}" \
      "k8s.io/kubernetes/cmd/kube-controller-manager@v${K8S_VERSION}" >&2
    local pkg=k8s.io/component-base/version
    local ldflags="-s -w -X ${pkg}.gitVersion=v${K8S_VERSION} -X ${pkg}.gitMajor=${K8S_VERSION%%.*}"
    ldflags+=" -X ${pkg}.gitMinor=$(echo "${K8S_VERSION}" | cut -d. -f2) -X ${pkg}.gitTreeState=clean"
    local cmd
    for cmd in "$@"; do
      go build -trimpath -ldflags "${ldflags}" -o "${ASSETS}/${cmd}.tmp" "k8s.io/kubernetes/cmd/${cmd}"
      mv "${ASSETS}/${cmd}.tmp" "${ASSETS}/${cmd}"
    done
  )
}

build_etcd() {
  local dir="${WORK}/etcd"
  mkdir -p "${dir}"
  log "building etcd v${ETCD_VERSION}"
  (
    cd "${dir}"
    go mod init envtest-binaries/etcd >/dev/null 2>&1
    # The same program as etcd's own root main.go; the root module is not needed for it.
    cat > main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
    # Pin every sibling module to the server's version so MVS cannot mix releases.
    go get "go.etcd.io/etcd/server/v3@v${ETCD_VERSION}" "go.etcd.io/etcd/api/v3@v${ETCD_VERSION}" \
      "go.etcd.io/etcd/client/pkg/v3@v${ETCD_VERSION}" "go.etcd.io/etcd/client/v3@v${ETCD_VERSION}" \
      "go.etcd.io/etcd/pkg/v3@v${ETCD_VERSION}" >&2
    go mod tidy >&2
    go build -trimpath -ldflags "-s -w" -o "${ASSETS}/etcd.tmp" .
  )
  mv "${ASSETS}/etcd.tmp" "${ASSETS}/etcd"
}

[[ -x "${ASSETS}/etcd" ]] || build_etcd
k8s_missing=()
for bin in kube-apiserver kubectl kube-controller-manager; do
  [[ -x "${ASSETS}/${bin}" ]] || k8s_missing+=("${bin}")
done
[[ ${#k8s_missing[@]} -eq 0 ]] || build_kubernetes "${k8s_missing[@]}"
log "control-plane binaries ready in ${ASSETS}"
echo "${ASSETS}"

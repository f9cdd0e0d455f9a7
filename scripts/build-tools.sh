#!/usr/bin/env bash
# Builds the real Kubernetes toolchain from Go modules into $MCP_TOOLS_DIR (default
# ~/.cache/mcp-operator/tools). Idempotent: a tool whose stamp matches its pinned version is skipped.
# Usage: scripts/build-tools.sh [tool ...]   (tools: kubernetes etcd kwok helm ct metacontroller)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=../tools/versions.env
source "$ROOT/tools/versions.env"
TOOLS_DIR="${MCP_TOOLS_DIR:-$HOME/.cache/mcp-operator/tools}"
BIN="$TOOLS_DIR/bin"
mkdir -p "$BIN" "$TOOLS_DIR/stamps"
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}"

up_to_date() { # name version binaries...
  local name=$1 version=$2; shift 2
  [[ "$(cat "$TOOLS_DIR/stamps/$name" 2>/dev/null)" == "$version" ]] || return 1
  for b in "$@"; do [[ -x "$BIN/$b" ]] || return 1; done
}
stamp() { echo "$2" > "$TOOLS_DIR/stamps/$1"; echo "built $1 $2"; }
log() { echo "[build-tools $(date +%H:%M:%S)] $*"; }

build_kubernetes() {
  local v=$KUBERNETES_VERSION minor
  up_to_date kubernetes "$v" kube-apiserver kube-controller-manager kube-scheduler kubectl && return
  minor=${v#v1.}; minor=${minor%%.*}
  local ld="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  log "kubernetes $v (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl): several minutes cold"
  (cd "$ROOT/tools/kubernetes" && for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
     go build -trimpath -ldflags "$ld" -o "$BIN/$c" "k8s.io/kubernetes/cmd/$c"; done)
  stamp kubernetes "$v"
}

build_etcd() {
  up_to_date etcd "$ETCD_VERSION" etcd && return
  log "etcd $ETCD_VERSION"
  (cd "$ROOT/tools/etcd" && go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" .)
  stamp etcd "$ETCD_VERSION"
}

build_kwok() {
  up_to_date kwok "$KWOK_VERSION" kwok && return
  log "kwok $KWOK_VERSION"
  GOBIN="$BIN" go install -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  stamp kwok "$KWOK_VERSION"
}

build_helm() {
  up_to_date helm "$HELM_VERSION+$KUBERNETES_VERSION" helm && return
  local minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  local ld="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  ld+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  # Without these, .Capabilities.KubeVersion falls back to v1.20 when rendering offline.
  for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    ld+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$minor"
  done
  log "helm $HELM_VERSION"
  GOBIN="$BIN" go install -trimpath -ldflags "$ld" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  stamp helm "$HELM_VERSION+$KUBERNETES_VERSION"
}

build_ct() {
  up_to_date ct "$CHART_TESTING_VERSION" ct && return
  log "chart-testing $CHART_TESTING_VERSION"
  (cd "$ROOT/tools/chart-testing" && go build -trimpath \
    -ldflags "-s -w -X github.com/helm/chart-testing/v3/ct/cmd.Version=$CHART_TESTING_VERSION" \
    -o "$BIN/ct" github.com/helm/chart-testing/v3/ct)
  stamp ct "$CHART_TESTING_VERSION"
}

# Metacontroller's Go module is named `metacontroller` (a bare path), so the module proxy cannot serve
# it: build from the release source. In this workplace that is the shared tarball (verified by
# sha256); elsewhere the upstream git tag.
build_metacontroller() {
  up_to_date metacontroller "$METACONTROLLER_VERSION" metacontroller && return
  local work tarball="${METACONTROLLER_TARBALL:-$ROOT/../shared/third_party/metacontroller-$METACONTROLLER_VERSION.tar.gz}"
  work=$(mktemp -d); trap 'rm -rf "$work"' RETURN
  if [[ -f "$tarball" ]]; then
    log "metacontroller $METACONTROLLER_VERSION from $tarball"
    echo "$METACONTROLLER_SHA256  $tarball" | sha256sum -c --quiet - \
      || { echo "build-tools: $tarball does not match METACONTROLLER_SHA256" >&2; return 1; }
    tar -xzf "$tarball" -C "$work"
  else
    log "metacontroller $METACONTROLLER_VERSION from the upstream tag (no tarball at $tarball)"
    git clone -q --depth 1 --branch "$METACONTROLLER_VERSION" \
      https://github.com/metacontroller/metacontroller "$work/metacontroller-$METACONTROLLER_VERSION"
  fi
  local src="$work/metacontroller-$METACONTROLLER_VERSION"
  (cd "$src" && go build -trimpath -ldflags "-s -w -X main.version=$METACONTROLLER_VERSION" \
     -o "$BIN/metacontroller" ./pkg/cmd/metacontroller)
  # Its own CRDs, kept beside the binary so tests and the chart install exactly the release's.
  mkdir -p "$TOOLS_DIR/share/metacontroller"
  cp "$src/manifests/production/metacontroller-crds-v1.yaml" "$TOOLS_DIR/share/metacontroller/"
  stamp metacontroller "$METACONTROLLER_VERSION"
}

tools=("$@"); [[ ${#tools[@]} -eq 0 ]] && tools=(etcd kwok helm ct kubernetes metacontroller)
for t in "${tools[@]}"; do "build_$t"; done
log "tools ready in $BIN"

#!/usr/bin/env bash
# Validate the onecard Helm chart offline, with a real Helm v3 and the Kubernetes OpenAPI schemas.
#
#   deploy/helm/validate.sh                       # both values sets: values.yaml, values-production.yaml
#   deploy/helm/validate.sh values-production.yaml
#   deploy/helm/validate.sh --install-helm        # only build/cache Helm and print its path
#
# For each values file: `helm lint --strict`, `helm template`, then validate_manifests.py on the
# output (kubernetes-validate against Kubernetes $ONECARD_KUBE_VERSION, CRD sanity checks, promtool
# on the PrometheusRule, the chart's pod-security policy). Also checks that the chart's copies of
# the dashboards and alert rules match their sources (deploy/grafana/build.py --check).
#
# Helm: $HELM if set; else ${ONECARD_CACHE:-~/.cache/onecard}/bin/helm when it is the pinned version;
# else built once from source with `go install` through the Go module proxy (a few minutes on two
# cores; later runs reuse the binary). Needs Go >= 1.22 for that build.
# Python: $PYTHON (default .venv/bin/python) with PyYAML and kubernetes-validate.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CHART="$HERE/onecard"
HELM_VERSION=v3.16.4
HELM_K8S_MINOR=31 # Helm v3.16.4 is built on k8s.io/client-go v0.31
KUBE_VERSION="${ONECARD_KUBE_VERSION:-1.30.0}"
CACHE="${ONECARD_CACHE:-$HOME/.cache/onecard}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"

log() { printf '%s\n' "$*" >&2; }

helm_is_pinned() { [ -x "$1" ] && [ "$("$1" version --template '{{.Version}}' 2>/dev/null)" = "$HELM_VERSION" ]; }

ensure_helm() {
  if [ -n "${HELM:-}" ]; then
    [ -x "$HELM" ] || { log "HELM=$HELM is not executable"; exit 2; }
    return
  fi
  HELM="$CACHE/bin/helm"
  if helm_is_pinned "$HELM"; then
    return
  fi
  command -v go >/dev/null 2>&1 || { log "helm $HELM_VERSION is not in $CACHE/bin and Go is missing to build it"; exit 2; }
  log "building helm $HELM_VERSION into $CACHE/bin (once; a few minutes) ..."
  mkdir -p "$CACHE/bin"
  local ld="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  ld+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  local pkg
  for pkg in pkg/lint/rules pkg/chartutil; do
    ld+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$HELM_K8S_MINOR"
  done
  local started=$SECONDS
  GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 GOBIN="$CACHE/bin" \
    nice -n 10 go install -trimpath -ldflags "$ld" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  helm_is_pinned "$HELM" || { log "the helm build did not produce $HELM_VERSION"; exit 2; }
  log "built helm $HELM_VERSION in $((SECONDS - started)) s"
}

ensure_helm
if [ "${1:-}" = "--install-helm" ]; then
  echo "$HELM"
  exit 0
fi

"$PYTHON" -c 'import kubernetes_validate, yaml' 2>/dev/null || {
  log "$PYTHON lacks kubernetes-validate: run 'uv sync' (dev group) or 'uv pip install kubernetes-validate'"
  exit 2
}

"$PYTHON" "$ROOT/deploy/grafana/build.py" --check

PROMTOOL_ARGS=()
if command -v promtool >/dev/null 2>&1; then
  PROMTOOL_ARGS=(--promtool "$(command -v promtool)")
fi

if [ "$#" -eq 0 ]; then
  set -- values.yaml values-production.yaml
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
log "helm: $HELM ($("$HELM" version --template '{{.Version}}')), Kubernetes $KUBE_VERSION"

for values in "$@"; do
  case "$values" in
    /*) file="$values" ;;
    *) file="$CHART/$values" ;;
  esac
  [ -f "$file" ] || { log "no such values file: $values"; exit 2; }
  name="$(basename "$file" .yaml)"
  log "== $name"
  "$HELM" lint --strict "$CHART" -f "$file" --kube-version "$KUBE_VERSION" >"$WORK/$name.lint" 2>&1 \
    || { cat "$WORK/$name.lint" >&2; log "helm lint failed for $name"; exit 1; }
  grep -E '^\[(WARNING|ERROR)\]' "$WORK/$name.lint" >&2 || true
  "$HELM" template onecard "$CHART" --namespace onecard -f "$file" \
    --kube-version "$KUBE_VERSION" \
    --api-versions monitoring.coreos.com/v1 --api-versions kafka.strimzi.io/v1beta2 \
    >"$WORK/$name.rendered.yaml"
  "$PYTHON" "$HERE/validate_manifests.py" "$WORK/$name.rendered.yaml" \
    --kube-version "$KUBE_VERSION" "${PROMTOOL_ARGS[@]}"
done
log "chart valid for: $*"

#!/usr/bin/env bash
# Regenerates the expected output of every chart conformance case from the real `helm`.
#
# Layout: <chart-name>/chart/ (or chart.tgz) is the chart; <chart-name>/cases/<case>.args holds
# the extra `helm template` arguments, one per line (paths relative to <chart-name>/); the
# expected stdout of `helm template conformance <chart> <args...>` goes to <case>.out.
#
# Helm is built once from its Go module into the shared build cache (the same place
# `cargo xtask bench helm` uses). Needs Go. Usage: crates/helm/tests/charts/regenerate.sh [chart...]
set -euo pipefail

HELM_VERSION=v3.19.0   # keep in step with xtask/src/bench/helm.rs
cache="${DRIFTLESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/driftless}/helm-${HELM_VERSION}"
helm="$cache/bin/helm"
if [[ ! -x "$helm" ]]; then
  mkdir -p "$cache/bin"
  GOBIN="$cache/bin" CGO_ENABLED=0 nice go install "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
fi

here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
charts=("$@")
if [[ ${#charts[@]} -eq 0 ]]; then
  charts=(*/)
fi
failed=0
for dir in "${charts[@]}"; do
  dir="${dir%/}"
  [[ -d "$dir/cases" ]] || continue
  chart="chart"
  [[ -d "$dir/chart" ]] || chart="chart.tgz"
  for args_file in "$dir"/cases/*.args; do
    case_name="$(basename "$args_file" .args)"
    mapfile -t args < "$args_file"
    out="$dir/cases/$case_name.out"
    if (cd "$dir" && "$helm" template conformance "$chart" "${args[@]}") > "$out.tmp" 2> "$out.err"; then
      mv "$out.tmp" "$out"
      rm -f "$out.err"
    else
      echo "FAILED: $dir/$case_name: $(cat "$out.err")" >&2
      rm -f "$out.tmp" "$out"
      failed=1
    fi
  done
done
exit "$failed"

#!/usr/bin/env bash
# Regenerates crates/gotmpl/tests/cases/*.expected.json from the Go oracle.
#
# The oracle (main.go here) renders each case with Go's text/template + Sprig v3.3.0, or with
# Helm v3.19.0's engine for cases marked "helm". It is built once with `go build` into
# ${DRIFTLESS_CACHE:-~/.cache/driftless}/gotmpl-oracle-<hash of its sources>/ (outside the repo).
# Dates are rendered in UTC. Needs Go and the Go module proxy (or a warm module cache).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${DRIFTLESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/driftless}"
hash="$(cat "$here/go.mod" "$here/go.sum" "$here/main.go" | sha256sum | cut -c1-16)"
bin="$cache/gotmpl-oracle-$hash/gotmpl-oracle"
if [ ! -x "$bin" ]; then
  mkdir -p "$(dirname "$bin")"
  echo "building the gotmpl oracle into $bin (once)" >&2
  (cd "$here" && CGO_ENABLED=0 nice go build -o "$bin" .)
fi
cases="$here/../tests/cases"
for f in "$cases"/*.cases; do
  out="${f%.cases}.expected.json"
  TZ=UTC "$bin" "$f" "$out"
  echo "wrote $out" >&2
done

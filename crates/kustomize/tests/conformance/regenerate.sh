#!/bin/sh
# Regenerates every case's expected.yaml from the oracle, `kubectl kustomize` (kustomize v5.5.0).
# A case is a directory holding `input/` (the tree) and, optionally, `BUILD` naming the
# directory under input/ to build (default: input/ itself).
# Usage: regenerate.sh [case...]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
cases=${*:-$(ls -d */ | tr -d /)}
for c in $cases; do
  dir="$c/input"
  if [ -f "$c/BUILD" ]; then dir="$c/input/$(cat "$c/BUILD")"; fi
  if ! kubectl kustomize "$dir" > "$c/expected.yaml" 2> "$c/.stderr"; then
    echo "oracle failed on $c:" >&2; cat "$c/.stderr" >&2; rm -f "$c/expected.yaml" "$c/.stderr"; exit 1
  fi
  rm -f "$c/.stderr"
done

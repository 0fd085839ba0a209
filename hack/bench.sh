#!/usr/bin/env bash
# Runs the engine's Go benchmarks and writes docs/benchmarks.md with the
# command, the machine and the results, so numbers are never quoted without
# their context.
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/benchmarks.md
cmd="go test -run '^\$' -bench . -benchmem -count 1 -timeout 60m ./engine/..."
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
eval "$cmd" | tee "$raw"
{
  echo "# Benchmarks"
  echo
  echo "Written by \`make bench\` ($(date -u +%Y-%m-%d))."
  echo
  echo "| machine | |"
  echo "|---|---|"
  echo "| cpu | $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') |"
  echo "| memory | $(free -g | awk '/Mem:/ {print $2}') GiB |"
  echo "| go | $(go env GOVERSION) $(go env GOOS)/$(go env GOARCH) |"
  echo
  echo "Command: \`$cmd\`"
  echo
  echo '```'
  grep -E '^(Benchmark|goos|goarch|pkg|cpu)' "$raw" || echo "no benchmarks ran"
  echo '```'
  if [ -f hack/benchmarks-notes.md ]; then echo; cat hack/benchmarks-notes.md; fi
} > "$out"
echo ">> wrote $out"

#!/usr/bin/env bash
# Runs the GA conformance suite (`engine conformance`) against Flux's own
# source-, kustomize- and notification-controller on a local control plane (the
# fluxup harness, as `make flux-up` runs it) and keeps the JUnit report and
# the summary in .data/flux/conformance. ENGINE overrides the engine binary
# that runs the suite; CONFORMANCE_FLAGS are passed to it.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=${ENGINE:-bin/engine}
data=.data/flux
out=$data/conformance
mkdir -p "$out"
go build -o "$data/fluxup" ./engine/internal/testenv/fluxup
# No Deployment stand-in: the suite expects Deployments never to become
# available on a cluster without a kubelet (kustomization/wait-unhealthy).
"$data/fluxup" --data-dir "$data" --deployment-delay 0 >"$data/fluxup.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true' EXIT
echo ">> starting a local control plane with Flux's controllers (log: $data/fluxup.log)"
for _ in $(seq 1 300); do
  [ -f "$data/kubeconfig" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then cat "$data/fluxup.log"; exit 1; fi
  sleep 1
done
if [ ! -f "$data/kubeconfig" ]; then
  echo "Flux was not running after 5 minutes"; cat "$data/fluxup.log"; exit 1
fi
echo ">> running the GA conformance suite against Flux"
status=0
# shellcheck disable=SC2086
"$engine" conformance --kubeconfig "$data/kubeconfig" --receiver-url "$(cat "$data/receiver-url")" \
  --junit "$out/junit.xml" ${CONFORMANCE_FLAGS:-} |
  tee "$out/summary.txt" || status=$?
echo ">> report in $out/ (docs/conformance-flux.md explains each case Flux fails)"
exit "$status"

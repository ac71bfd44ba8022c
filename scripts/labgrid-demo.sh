#!/usr/bin/env bash
# The labgrid demo on loopback: a coordinator and two exporters (127.0.0.1 only), each exporting an
# emulated board's UART (QEMU behind ser2net, RFC2217); the example HIL suite (examples/tests) run on both
# places with pytest-xdist through labgrid's --lg-env; then again with one place taken away mid-run, which
# must be reported, not hung on.  Every process is bounded in time and stopped at the end.
#   scripts/labgrid-demo.sh [--board qemu-m4] [--workdir DIR] [--no-take-away]
# Needs the rig extra (pip install -e .[rig]) and ser2net (apt-get install ser2net).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
export TF_CPP_MIN_LOG_LEVEL=3
exec timeout --kill-after=10 900 "$PY" -m tinydeploy.rig.demo "$@"

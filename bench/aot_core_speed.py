"""Latency of the aot runtime's reference vs optimized kernels on the MLPerf Tiny models, under QEMU.

    python bench/aot_core_speed.py [--board qemu-m4] [--models ds_cnn,resnet8] [--json out.json]

Each model is rendered twice (reference kernels, optimized kernels), built with the device harness, run
under QEMU for a few inputs, and checked bit-exact against TFLM's host interpreter on the way.  Emulated
boards count executed instructions (QEMU -icount), not cycles: compare the two columns, not absolute time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import numpy as np  # noqa: E402

from aotutil import random_inputs, tflm_outputs  # noqa: E402
from tinydeploy import zoo  # noqa: E402
from tinydeploy.boards import get_board  # noqa: E402
from tinydeploy.link import DeviceLink  # noqa: E402

MODELS = ["ds_cnn", "mobilenet_v1_025", "resnet8", "fc_autoencoder"]


def build(model_path: Path, board, out: Path, optimized: bool) -> Path:
    from tinydeploy.flash.firmware import compile_firmware
    from tinydeploy.render.aot import AOT_BUILD_FLAGS, render_aot

    render_aot(model_path, board, out, optimized=optimized)
    src = out / "src"
    sources = (sorted(src.glob("*.c")) + sorted((src / "aot" / "kernels").glob("*.c"))
               + sorted((src / "harness").glob("*.c")))
    flags = [f for f in AOT_BUILD_FLAGS if not f.startswith("-O")]
    return compile_firmware(board, sources, [src, src / "aot" / "kernels", src / "harness", out / "include"],
                            out / "build", name="fw", extra_flags=flags)


def measure(model_path: Path, board, elf: Path, samples: int) -> int:
    from tinydeploy.flash.qemu import QemuRunner

    batches = random_inputs(model_path, samples, seed=3)
    expected = tflm_outputs(model_path, batches)
    latencies = []
    with QemuRunner(board, elf, timeout=600) as run, DeviceLink.open(run.url, timeout=5, invoke_timeout=300) as link:
        link.hello()
        for n in range(samples):
            result = link.infer([b[n:n + 1] for b in batches])
            for got, want in zip(result.outputs, expected):
                if not np.array_equal(np.asarray(got).reshape(-1), want[n].reshape(-1)):
                    raise SystemExit(f"{model_path.name}: device output differs from TFLM on sample {n}")
            latencies.append(result.latency)
    return min(latencies)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="qemu-m4")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    board = get_board(args.board)
    rows = []
    print(f"{'model':<18} {'reference':>14} {'optimized':>14} {'speedup':>8}   ({board.id}, {board.latency_unit})")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            path = zoo.tflite_model(name, "int8")
            figures = {}
            for optimized in (False, True):
                elf = build(path, board, Path(tmp) / f"{name}-{optimized}", optimized)
                figures[optimized] = measure(path, board, elf, args.samples)
            speedup = figures[False] / figures[True]
            rows.append({"model": name, "reference": figures[False], "optimized": figures[True],
                         "unit": board.latency_unit, "board": board.id})
            print(f"{name:<18} {figures[False]:>14,} {figures[True]:>14,} {speedup:>7.2f}x")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

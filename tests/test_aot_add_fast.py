"""add.h's td_add_s8_row (the flat int8 ADD loop with SMMULR requantization) equals the reference
td_add_s8 (td_fixedpoint.h's gemmlowp arithmetic, bit-exact with TFLM) on every one of the 65536 input
pairs, for parameter sets from random scales and for the edge cases the generator lets through
(tinydeploy.aot.ops.elementwise.add_row_fast_ok): shifts 0 and -31, multipliers 0, 2^30 and 2^31 - 1,
zero points at both ends, every activation range.  Native compile: the portable twin of SMMULR
(td_high_mul_fast) is the same formula, and the qemu model tests run the instruction itself.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tinydeploy.aot.ops.elementwise import add_row_fast_ok, add_s8_params
from tinydeploy.paths import firmware_dir

FIELDS = ["a_offset", "a_multiplier", "a_shift", "b_offset", "b_multiplier", "b_shift", "left_shift",
          "out_multiplier", "out_shift", "out_offset", "act_min", "act_max"]

PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include "add.h"

int main(int argc, char **argv) {
  static int8_t a[65536], b[65536], ref[65536], fast[65536], scalar[256];
  const td_bcast6 flat = {{1, 1, 1, 1, 1, 65536}, {0, 0, 0, 0, 0, 1}, {0, 0, 0, 0, 0, 1}};
  for (int32_t i = 0; i < 65536; ++i) {
    a[i] = (int8_t)(i & 0xFF);
    b[i] = (int8_t)(i >> 8);
  }
  int bad = 0;
  for (int k = 1; k + 12 <= argc; k += 12) {
    int32_t v[12];
    for (int j = 0; j < 12; ++j) v[j] = (int32_t)strtol(argv[k + j], NULL, 10);
    const td_add_s8_params p = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]};
    td_add_s8(a, b, ref, &flat, &p);
    td_add_s8_row(a, 1, b, 1, fast, 65536, &p);
    for (int32_t i = 0; i < 65536; ++i)
      if (ref[i] != fast[i]) {
        printf("set %d: a=%d b=%d ref=%d fast=%d\n", k / 12, a[i], b[i], ref[i], fast[i]);
        ++bad;
        break;
      }
    /* a single-value operand (step 0), as `x + scalar` lowers: b[256] == 1, and ref[256 + i] is a[i] + 1 */
    td_add_s8_row(a, 1, b + 256, 0, scalar, 256, &p);
    for (int32_t i = 0; i < 256; ++i)
      if (scalar[i] != ref[256 + i]) {
        printf("set %d (step 0): a=%d ref=%d fast=%d\n", k / 12, a[i], ref[256 + i], scalar[i]);
        ++bad;
        break;
      }
  }
  return bad != 0;
}
"""


class _Q:
    """The slice of a Tensor add_s8_params reads: per-tensor scale and zero point."""

    def __init__(self, scale: float, zp: int) -> None:
        self.quant = type("Quant", (), {"scale": np.array([scale], np.float32), "zero_point": np.array([zp])})()
        self.name = "t"


def _random_sets(rng: np.random.Generator, count: int) -> list[dict[str, int]]:
    sets = []
    while len(sets) < count:
        sa, sb = np.exp(rng.uniform(np.log(1e-4), np.log(1.0), 2))
        sy = float(np.exp(rng.uniform(np.log(0.3 * max(sa, sb)), np.log(8 * max(sa, sb)))))
        zps = [int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))])) for _ in range(3)]
        p = add_s8_params(_Q(float(sa), zps[0]), _Q(float(sb), zps[1]), _Q(sy, zps[2]))  # type: ignore[arg-type]
        lo, hi = sorted(int(v) for v in rng.integers(-128, 128, 2))
        p["act_min"], p["act_max"] = [(-128, 127), (zps[2], 127), (lo, hi)][len(sets) % 3]
        if add_row_fast_ok(p):
            sets.append(p)
    return sets


def _edge_sets() -> list[dict[str, int]]:
    base = {"a_offset": 128, "a_multiplier": 1 << 30, "a_shift": 0, "b_offset": -127,
            "b_multiplier": (1 << 31) - 1, "b_shift": -1, "left_shift": 20, "out_multiplier": (1 << 31) - 1,
            "out_shift": 0, "out_offset": -128, "act_min": -128, "act_max": 127}
    edges = [base,
             {**base, "a_offset": -127, "b_offset": 128, "out_shift": -31, "out_offset": 127},
             {**base, "b_multiplier": 0, "b_shift": -31, "out_multiplier": 1 << 30, "out_shift": -20},
             {**base, "a_shift": -31, "b_shift": 0, "out_shift": -1, "out_offset": 0, "act_min": -5, "act_max": 7},
             {**base, "left_shift": 20, "out_multiplier": 1518500250, "out_shift": -21, "out_offset": 3}]
    # left shift 0 and an output scale of about one keep the inputs' rescaled values within int8, so a
    # rounding slip in any stage (a tie of an input's shift included) changes the output
    small = {**base, "left_shift": 0, "a_offset": 0, "b_offset": 0, "out_offset": 0}
    edges += [{**small, "b_multiplier": m, "b_shift": sh, "out_multiplier": mo, "out_shift": so}
              for m, sh in ((1518500250, -1), (1288490189, -2), (2147483647, -3))
              for mo, so in (((1 << 31) - 1, 0), (1 << 30, 0), (1431655765, -1))]
    assert all(add_row_fast_ok(p) for p in edges)
    return edges


@pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc is not installed")
def test_add_row_matches_reference_exhaustively(tmp_path: Path) -> None:
    kernels = firmware_dir() / "aot" / "kernels"
    (tmp_path / "main.c").write_text(PROGRAM)
    exe = tmp_path / "add_fast"
    cmd = ["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{kernels}", str(tmp_path / "main.c"),
           str(kernels / "add.c"), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    sets = _edge_sets() + _random_sets(np.random.default_rng(7), 40)
    args = [str(p[f]) for p in sets for f in FIELDS]
    run = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout


def test_fast_path_preconditions() -> None:
    ok = _edge_sets()[0]
    assert not add_row_fast_ok({**ok, "out_shift": -32})
    assert not add_row_fast_ok({**ok, "b_shift": 1})
    assert not add_row_fast_ok({**ok, "left_shift": 21})

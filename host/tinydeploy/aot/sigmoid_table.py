"""The sigmoid table that TFLite Micro's int16 LOGISTIC, int16 TANH and integer LSTM interpolate.

Those kernels look sigmoid up at x_i = i / 24 (i = 0..255, so 0 <= x < 10.7) in unsigned Q0.16 and
interpolate linearly between neighbours (tanh through tanh(x) = 2 sigmoid(2x) - 1).  Each entry is not
sigmoid(x_i) itself but that value moved by half the interpolation error at the middle of its interval,
which balances the chord's error between the samples and the midpoints:

    t_i = round(65536 * (s(x_i) + (s(x_i + h/2) - (s(x_i) + s(x_i + h)) / 2) / 2)),  h = 1/24,

in double precision; the last entry is 65535 (only its difference to entry 254 is ever used, and the
kernels saturate from x = 255/24 on).  Computed here at code generation and emitted once per program, only when a layer
needs it (`shared_sigmoid_table`).  No value lies within 0.004 of a rounding tie, so the double arithmetic
of any platform gives the same table.
"""

from __future__ import annotations

import numpy as np

from tinydeploy.aot.lowering import LoweringContext

SIGMOID_TABLE_SIZE = 256
SIGMOID_TABLE_STEP = 1.0 / 24.0  # input spacing of the entries (the kernels' fixed-point input / 2^9 / 24)
SIGMOID_TABLE_NAME = "sigmoid_q16"  # C identifier td_sigmoid_q16 in the generated model code


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def sigmoid_table_q16() -> np.ndarray:
    """The 256 uint16 entries: midpoint-balanced sigmoid samples at i / 24 in Q0.16, last entry 65535."""
    h = SIGMOID_TABLE_STEP
    x = np.arange(SIGMOID_TABLE_SIZE - 1, dtype=np.float64) * h
    at, mid, nxt = _sigmoid(x), _sigmoid(x + h / 2), _sigmoid(x + h)
    balanced = at + (mid - (at + nxt) / 2) / 2
    table = np.rint(65536.0 * balanced)
    return np.append(table, 65535.0).astype(np.uint16)


def shared_sigmoid_table(ctx: LoweringContext) -> str:
    """The C identifier of the program's one copy of the table (declared on first use)."""
    return ctx.shared_const(SIGMOID_TABLE_NAME, sigmoid_table_q16(), "uint16_t")

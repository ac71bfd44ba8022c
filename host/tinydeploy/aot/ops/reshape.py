"""RESHAPE / SQUEEZE / EXPAND_DIMS: the output is the same bytes as the input; no code at all."""

from __future__ import annotations

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.model.graph import Operator


@lowering("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
def lower_reshape(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    if x.size != y.size or x.dtype != y.dtype:
        raise ctx.unsupported(op, f"{x.dtype}{list(x.shape)} -> {y.dtype}{list(y.shape)} is not a pure reshape")
    ctx.alias(op, x, y)

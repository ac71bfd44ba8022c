"""Helium (Cortex-M55, MVE) lowerings of int8 ADD and MUL over one row: firmware/aot/kernels/add_s8_mve.c and
mul_s8_mve.c.

elementwise.py calls them first for an int8 ADD or MUL whose operands are dense or single values (row_steps;
an ADD also meets td_add_s8_row's range preconditions, add_row_fast_ok, which it checks); they return False
when the target has no Helium, and the layer keeps its other kernels.
"""

from __future__ import annotations

from tinydeploy.aot.lowering import LoweringContext
from tinydeploy.model.graph import Tensor


def lower_add_mve(ctx: LoweringContext, a: Tensor, b: Tensor, y: Tensor, steps: tuple[int, int], n: int,
                  params: dict[str, int], struct: str) -> bool:
    """td_add_s8_mve(a, a_step, b, b_step, y, n, &p) with `struct` declaring the td_add_s8_params p; its
    output rescaling assumes a negative shift (its multiplier is tiny: 2^-20 of a scale ratio)."""
    if not ctx.target.mve or not ctx.target.optimized or params["out_shift"] >= 0:
        return False
    ctx.kernel("add_s8_mve")
    ctx.emit(f"{{\n  {struct}\n  td_add_s8_mve({ctx.ptr(a)}, {steps[0]}, {ctx.ptr(b)}, {steps[1]}, {ctx.ptr(y)}, "
             f"{n}, &p);\n}}")
    return True


def lower_mul_mve(ctx: LoweringContext, a: Tensor, b: Tensor, y: Tensor, steps: tuple[int, int], n: int,
                  struct: str) -> bool:
    """td_mul_s8_mve(a, a_step, b, b_step, y, n, &p) with `struct` declaring the td_mul_s8_params p (exact
    for every multiplier and shift TFLM's Prepare gives)."""
    if not ctx.target.mve or not ctx.target.optimized:
        return False
    ctx.kernel("mul_s8_mve")
    ctx.emit(f"{{\n  {struct}\n  td_mul_s8_mve({ctx.ptr(a)}, {steps[0]}, {ctx.ptr(b)}, {steps[1]}, {ctx.ptr(y)}, "
             f"{n}, &p);\n}}")
    return True

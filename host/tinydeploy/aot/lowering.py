"""The contract between the aot code generator and the per-op lowerings.

One module per op family in `tinydeploy.aot.ops` (conv2d.py, depthwise_conv2d.py, softmax.py, ...), beside
one C file per kernel in `firmware/aot/kernels/`.  A lowering turns one graph operator into C statements
that call its kernel with everything constant precomputed at build time (multipliers and shifts, folded
zero points, padding, activation ranges, lookup tables).  It never decides where a tensor lives: it refers
to tensors symbolically through the context, and the memory planner places them afterwards.

    from tinydeploy.aot.lowering import lowering, LoweringContext
    from tinydeploy.model.graph import Operator

    @lowering("RELU", "RELU6")
    def lower_relu(op: Operator, ctx: LoweringContext) -> None:
        x, y = ctx.input(op, 0), ctx.output(op, 0)
        ctx.allow_inplace(op, x, y)
        ctx.kernel("relu_s8")       # firmware/aot/kernels/relu_s8.c and .h get built and included
        ctx.emit(f"td_relu_s8({ctx.ptr(x)}, {ctx.ptr(y)}, {x.size}, {lo}, {hi});")

A lowering that cannot handle an op's options raises `UnsupportedOpError` (via `ctx.unsupported(op, why)`)
so that render fails with the op, the layer and the advice to use `--runtime tflm`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from tinydeploy.errors import UnsupportedOpError
from tinydeploy.model.graph import Model, Operator, Tensor


@dataclass(frozen=True)
class TargetFeatures:
    """What the generated code may use on the target core (from the board file's cpu section)."""

    cpu: str = "host"  # "cortex-m4", "cortex-m55", "host", ...
    dsp: bool = False  # ARMv7E-M / ARMv8-M DSP extension: SMLAD, SXTB16, ...
    fpu: bool = False
    mve: bool = False  # Helium
    optimized: bool = True  # False forces the reference kernels (the exactness oracle)
    # Layers of at most this many multiply-accumulates keep the reference kernel even when optimized: a
    # classifier head's few thousand instructions do not pay for a kilobyte of specialized code.
    small_layer_macs: int = 4096
    # "speed": only the RAM savings that cost no instruction (a convolution's output written over its own
    # input, plan/overlap.py); "ram": also instructions for bytes (residual skips recomputed, expansions run
    # in bands: aot/recompute.py, aot/bands.py)
    memory_priority: str = "speed"


class LoweringContext(Protocol):
    """What a lowering may ask of the generator.  Implemented in tinydeploy.aot.codegen."""

    model: Model
    target: TargetFeatures

    def input(self, op: Operator, i: int) -> Tensor:
        """The op's i-th input tensor (raises a clear error when it is absent)."""

    def output(self, op: Operator, i: int) -> Tensor:
        """The op's i-th output tensor."""

    def ptr(self, tensor: Tensor, ctype: str | None = None) -> str:
        """A C expression of type `ctype *` (default: the tensor's own element type) pointing at the tensor's
        data: a const array in flash for constants, an arena location for activations."""

    def const(self, name: str, values: np.ndarray, ctype: str, align: int = 16) -> str:
        """Declare a constant array (placed in flash, `static const ctype NAME[]`), unique per op; returns its
        C identifier.  Use for per-channel multipliers, shifts, folded biases, repacked weights, LUTs."""

    def shared_const(self, name: str, values: np.ndarray, ctype: str, align: int = 16) -> str:
        """Declare a program-wide constant array `td_NAME` once, whichever ops ask for it (tables several layers
        share); returns its C identifier."""

    def struct(self, name: str, ctype: str, fields: dict[str, object]) -> str:
        """Declare `static const ctype NAME = {.field = value, ...};` (kernel parameters in flash), unique per
        op; returns `&NAME`.  Values: ints, floats (written as exact hex literals), C expressions (str) or dicts
        (a nested struct's fields)."""

    def has_input(self, op: Operator, i: int) -> bool:
        """Whether the optional input i is present (e.g. a bias)."""

    def scratch(self, op: Operator, nbytes: int, align: int = 16) -> str:
        """Reserve a scratch buffer in the arena live only while this op runs; returns a `void *` expression."""

    def allow_inplace(self, op: Operator, src: Tensor, dst: Tensor) -> None:
        """The kernel is correct when dst overlaps src exactly (element-wise ops reading each element before
        writing it); the planner may then reuse src's memory for dst if src dies at this op."""

    def alias(self, op: Operator, src: Tensor, dst: Tensor) -> None:
        """dst is the very same bytes as src (RESHAPE, SQUEEZE): no code, no copy, shared memory."""

    def kernel(self, name: str) -> None:
        """Require firmware/aot/kernels/{name}.c (and include {name}.h) in the generated project."""

    def emit(self, code: str) -> None:
        """Append C statements to this op's slot in model_invoke()."""

    def unsupported(self, op: Operator, why: str) -> UnsupportedOpError:
        """Build the error for an op or option the aot engine cannot run (raise what it returns)."""


LoweringFn = Callable[[Operator, LoweringContext], None]


@dataclass
class _Registry:
    by_op: dict[str, LoweringFn] = field(default_factory=dict)


REGISTRY = _Registry()


def lowering(*opcodes: str) -> Callable[[LoweringFn], LoweringFn]:
    """Register a function as the lowering of the named TFLite builtin ops."""

    def register(fn: LoweringFn) -> LoweringFn:
        for name in opcodes:
            if name in REGISTRY.by_op:
                raise RuntimeError(f"two lowerings registered for {name}")
            REGISTRY.by_op[name] = fn
        return fn

    return register


def supported_ops() -> list[str]:
    """TFLite builtins the aot runtime runs: the lowered ones, and IF / WHILE, whose subgraphs the generator
    splices inline (aot/ops/control_flow.py); not the generator's own TD_ steps that splicing produces."""
    import tinydeploy.aot.ops  # noqa: F401  (registers the lowerings)
    from tinydeploy.aot.ops.control_flow import FLOW_OPS

    return sorted({op for op in REGISTRY.by_op if not op.startswith("TD_")} | set(FLOW_OPS))


def lookup(opcode: str) -> LoweringFn | None:
    import tinydeploy.aot.ops  # noqa: F401

    return REGISTRY.by_op.get(opcode)


# --- helpers shared by lowerings (added by the aot core; pure functions of the op's constants) ----------


def compute_out_size(padding: str, in_size: int, filter_size: int, stride: int, dilation: int = 1) -> int:
    """TFLite's ComputeOutSize for SAME / VALID padding."""
    effective = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        return (in_size + stride - 1) // stride
    if padding == "VALID":
        return (in_size + stride - effective) // stride
    raise ValueError(f"unknown padding {padding}")


def compute_padding(padding: str, in_size: int, filter_size: int, stride: int, dilation: int = 1
                    ) -> tuple[int, int, int]:
    """TFLM's ComputePaddingHeightWidth for one dimension: (out_size, pad_before, extra_pad_after)."""
    out = compute_out_size(padding, in_size, filter_size, stride, dilation)
    effective = (filter_size - 1) * dilation + 1
    total = max(0, (out - 1) * stride + effective - in_size)
    return out, total // 2, total % 2


def quant_of(t: Tensor) -> tuple[float, int]:
    """(scale, zero_point) of a per-tensor quantized tensor; (0.0, 0) when it is not quantized."""
    if t.quant is None or not t.quant.scale.size:
        return 0.0, 0
    return float(t.quant.scale[0]), int(t.quant.zero_point[0])


def activation_range_f32(activation: str) -> tuple[float, float]:
    """TFLite's CalculateActivationRange for float fused activations."""
    big = float(np.finfo(np.float32).max)
    ranges = {"NONE": (-big, big), "RELU": (0.0, big), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}
    if activation not in ranges:
        raise ValueError(f"unsupported fused activation {activation}")
    return ranges[activation]

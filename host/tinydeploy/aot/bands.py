"""Patch-based execution of an inverted residual's expansion: the expanded tensor never exists whole.

In MobileNetV2-style blocks a 1x1 CONV_2D expands X (C channels) to E (6C channels) and a
DEPTHWISE_CONV_2D reads E: at high resolution E alone can be most of the peak (MobileNetV2 0.35 at 96x96:
48x48x48 = 110 KB of a 111 KB peak).  With --memory-priority ram the generator may run the pair band by
band instead (MCUNetV2's patch-based inference, along rows):

    for each band of depthwise output rows [r, r + n):
        rows [a, b) of E the band's windows need  = CONV_1x1(X rows [a, b))      into a scratch band
        D rows [r, r + n)                          = DEPTHWISE(scratch band)      straight into D

Both kernels take their geometry at run time: the band's E rows are the 1x1 conv of the same X rows
(in_h = out_h = b - a); the depthwise sees a band input of b - a rows starting at image row a, with the
top padding that remains above it, so every output is computed from the same values with the same
requantization: bit-exact.  Windows of neighbouring bands overlap by (k - 1) * dilation + 1 - stride rows:
those rows, already expanded, move to the band's top and only the rows after them are expanded (a 1x1
conv's rows are independent), so E is expanded exactly once; the cost is the row moves and the calls per
band (bench/aot_speed.py reports it).  E takes no arena bytes; X lives until the depthwise op, and the
scratch band only during it.  A first band computes one output row; once every rewrite is applied,
recompute.apply makes each band taller, row by row, while the arena stays (fewer calls).

Both layers run the kernels their own lowering picks (band_call): the layer is lowered once more with the
band standing in for E, and where that gives one descriptor call (the DSP GEMM, the packed depthwise, the
Helium kernels: all take {geom, input, output, ...}), each band calls it on a copy of the descriptor with
the band's rows and pointers.  Only the direct kernels' calls (td_conv2d_s8_opt, the reference kernels)
keep the parameter-struct form below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tinydeploy.aot.ops.conv2d import CONV_FIELDS, DEPTHWISE_FIELDS
from tinydeploy.model.graph import Model, Operator, Tensor

# A first band computes one output row (the least scratch; with the shared rows kept, a short band costs
# only its calls and row moves); recompute.apply then tries up to this many taller ones
MAX_GROWTH = 8


# The kernels whose whole call is one descriptor beginning {int16_t geom[...]; input; output; ...}
# (conv2d_s8_opt.h, depthwise_conv2d_s8_opt.h, conv2d_s8_mve.h, depthwise_conv2d_s8_mve.h): their type and
# geometry field order.  Each takes its geometry at run time and precomputes nothing for the whole tensor.
DESCRIPTORS = {
    "td_conv2d_s8_gemm": ("td_conv2d_s8_gemm_op", CONV_FIELDS),
    "td_conv2d_s8_mve": ("td_conv2d_s8_mve_op", CONV_FIELDS),
    "td_depthwise_conv2d_s8_packed": ("td_depthwise_conv2d_s8_packed_op", DEPTHWISE_FIELDS),
    "td_depthwise_conv2d_s8_packed_3x3": ("td_depthwise_conv2d_s8_packed_op", DEPTHWISE_FIELDS),
    "td_depthwise_conv2d_s8_mve": ("td_depthwise_conv2d_s8_mve_op", DEPTHWISE_FIELDS),
}


@dataclass(frozen=True)
class BandCall:
    """A layer's own fast kernel, called on a band: a copy of its descriptor with the band's rows."""

    fn: str
    ctype: str
    desc: str
    fields: tuple[str, ...]

    def code(self, source: str, dest: str, in_h: str, out_h: str, pad_h: str) -> str:
        geom = " ".join(f"o.geom[{self.fields.index(k)}] = (int16_t)({v});"
                        for k, v in (("in_h", in_h), ("out_h", out_h), ("pad_h", pad_h)))
        copy = f"{self.ctype} o = {self.desc.lstrip('&')};"
        return f"{{ {copy} {geom} o.input = {source}; o.output = {dest}; {self.fn}(&o); }}"


class _BandContext:
    """The generator's context as a layer's lowering sees it when the layer runs inside another op (ctx.op):
    the tensors in `band` are a scratch band, scratch buffers belong to that op, and the code is kept here."""

    def __init__(self, ctx, band: dict[int, str]) -> None:  # type: ignore[no-untyped-def]
        self._ctx, self._band, self.lines = ctx, band, []

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._ctx, name)

    def ptr(self, tensor: Tensor, ctype: str | None = None) -> str:
        if tensor.index in self._band:
            return f"(({ctype or 'int8_t'} *){self._band[tensor.index]})"
        return self._ctx.ptr(tensor, ctype)

    def scratch(self, op: Operator, nbytes: int, align: int = 16) -> str:
        return self._ctx.scratch(self._ctx.op, nbytes, align)

    def emit(self, code: str) -> None:
        self.lines.extend(code.strip().split("\n"))

    def allow_inplace(self, *args: object) -> None:
        raise ValueError("in place")

    def alias(self, *args: object) -> None:
        raise ValueError("alias")


def band_call(ctx, op: Operator, band: dict[int, str]) -> BandCall | None:  # type: ignore[no-untyped-def]
    """The kernel `op`'s own lowering picks, as a descriptor to call band by band (`band`: tensor index ->
    the scratch band standing in for it); None when the lowering calls a kernel with separate arguments
    (the direct and reference kernels: the caller emits those), ctx then as it was."""
    from tinydeploy.aot.lowering import lookup
    from tinydeploy.aot.recompute import restore, snapshot

    saved = snapshot(ctx)
    lowered = _BandContext(ctx, band)
    lookup(op.opcode)(op, lowered)  # type: ignore[misc]
    m = re.fullmatch(r"(td_\w+)\((&\w+)\);", " ".join(lowered.lines))
    if m is None or m.group(1) not in DESCRIPTORS:
        restore(ctx, saved)
        return None
    ctype, fields = DESCRIPTORS[m.group(1)]
    return BandCall(m.group(1), ctype, m.group(2), fields)


@dataclass(frozen=True)
class ExpandBand:
    expand: int  # op index of E = CONV_2D 1x1 (X)
    depthwise: int  # op index of D = DEPTHWISE_CONV_2D (E)
    source: int  # X
    mid: int  # E
    out: int  # D


def candidates(model: Model, skipped: set[int] | frozenset[int]) -> list[ExpandBand]:
    consumers, producer = model.consumers(skipped), model.producers(skipped)
    found = []
    for dw in model.operators:
        if dw.index in skipped or dw.opcode != "DEPTHWISE_CONV_2D" or len(dw.inputs) < 2 or not dw.outputs:
            continue
        e = dw.inputs[0]
        exp = producer.get(e)
        if exp is None or exp.opcode != "CONV_2D" or e in model.outputs or len(consumers.get(e, [])) != 1:
            continue
        x, d = exp.inputs[0], dw.outputs[0]
        tx, te, td, tw = model.tensors[x], model.tensors[e], model.tensors[d], model.tensors[exp.inputs[1]]
        if tx.is_constant or not (tx.dtype == te.dtype == td.dtype == "int8"):
            continue
        if len(te.shape) != 4 or te.shape[0] != 1 or tuple(tw.shape[1:3]) != (1, 1):
            continue
        if exp.options.get("stride_h", 1) != 1 or exp.options.get("stride_w", 1) != 1:
            continue
        found.append(ExpandBand(exp.index, dw.index, x, e, d))
    return found


def _geometries(ctx, cand: ExpandBand) -> tuple[dict[str, int], dict[str, int]]:  # type: ignore[no-untyped-def]
    """The expansion's and the depthwise's geometry; ValueError when the pair does not fit the scheme."""
    from tinydeploy.aot.ops.conv2d import conv_geometry

    model = ctx.model
    exp, dw = model.operators[cand.expand], model.operators[cand.depthwise]
    x, we, e = model.tensors[cand.source], model.tensors[exp.inputs[1]], model.tensors[cand.mid]
    wd, d = model.tensors[dw.inputs[1]], model.tensors[cand.out]
    if not (we.is_constant and wd.is_constant) or we.shape[3] != x.shape[3] or wd.shape[0] != 1:
        raise ValueError("filters")
    ge = conv_geometry(exp, ctx, x, we, e, (1, 1))
    gd = conv_geometry(dw, ctx, e, wd, d, (wd.shape[1], wd.shape[2]))
    if ge["pad_h"] or ge["pad_w"] or ge["batches"] != 1 or gd["out_c"] % gd["in_c"] or wd.shape[3] != gd["out_c"]:
        raise ValueError("geometry")
    gd["depth_multiplier"] = gd["out_c"] // gd["in_c"]
    return ge, gd


def _window(gd: dict[str, int], n: int) -> int:
    """The E rows the depthwise windows of n output rows span."""
    return (n - 1) * gd["stride_h"] + (gd["k_h"] - 1) * gd["dil_h"] + 1


def taller_rows(ctx, cand: ExpandBand) -> range:  # type: ignore[no-untyped-def]
    """The band heights past the first (one output row), at most MAX_GROWTH more, up to the whole output."""
    _, gd = _geometries(ctx, cand)
    return range(2, min(gd["out_h"], 1 + MAX_GROWTH) + 1)


def emit_bands(ctx, cand: ExpandBand, rows: int | None = None) -> str:  # type: ignore[no-untyped-def]
    """The depthwise op's new code (band loop), bands of `rows` output rows (None: one);
    raises ValueError / UnsupportedOpError when the pair does not fit the scheme."""
    model = ctx.model
    exp, dw = model.operators[cand.expand], model.operators[cand.depthwise]
    x, e, d = model.tensors[cand.source], model.tensors[cand.mid], model.tensors[cand.out]
    ge, gd = _geometries(ctx, cand)
    row_e, row_x, row_d = ge["in_w"] * ge["out_c"], ge["in_w"] * ge["in_c"], gd["out_w"] * gd["out_c"]
    s, span = gd["stride_h"], _window(gd, 1)
    n = min(rows or 1, gd["out_h"])
    band = ctx.scratch(dw, min(_window(gd, n), ge["out_h"]) * row_e)
    expand = _expand_code(ctx, exp, ge, band, cand.mid)
    depthwise = _depthwise_code(ctx, dw, gd, band, cand.mid)
    ctx.kernel("copy")
    name = e.name.replace("*/", "* /")[:60]
    # rows [held, done) of E are in the band from the last turn: those this band needs too move to its top
    # (row by row: each copy is one row moved at least one row down), only the rows after them are expanded
    return f"""{{ /* op #{exp.index} (1x1 expansion to '{name}') and this depthwise run in bands of {n} rows */
  enum {{ ROW_X = {row_x}, ROW_E = {row_e}, ROW_D = {row_d}, ROWS = {n}, STRIDE = {s}, SPAN = {span} }};
  const int8_t *const x = {ctx.ptr(x)};
  int8_t *const band = (int8_t *){band};
  int8_t *const out = {ctx.ptr(d)};
  int32_t held = 0, done = 0;
  for (int32_t r = 0; r < {gd['out_h']}; r += ROWS) {{
    const int32_t n = {gd['out_h']} - r < ROWS ? {gd['out_h']} - r : ROWS;
    const int32_t top = r * STRIDE - {gd['pad_h']};
    const int32_t a = top > 0 ? top : 0;
    const int32_t end = top + (n - 1) * STRIDE + SPAN;
    const int32_t b = end < {gd['in_h']} ? end : {gd['in_h']};
    const int32_t first = done > a ? done : a;
    for (int32_t i = 0; i < first - a; ++i) td_copy_bytes(band + i * ROW_E, band + (a - held + i) * ROW_E, ROW_E);
    if (b > first) {expand}
    held = a;
    done = b;
    {depthwise}
  }}
}}"""


def _expand_code(ctx, exp: Operator, ge: dict[str, int], band: str, mid: int) -> str:  # type: ignore[no-untyped-def]
    """E rows [first, b) = the 1x1 expansion of X rows [first, b), into the band from row first - a: the
    layer's own kernel."""
    from tinydeploy.aot.ops.conv2d import bias_ptr, folded_bias, int8_requant

    fast = band_call(ctx, exp, {mid: band}) if ctx.target.optimized else None
    if fast is not None:
        return fast.code("x + first * ROW_X", "band + (first - a) * ROW_E", "b - first", "b - first", "0")
    x, w, e = (ctx.model.tensors[t] for t in (exp.inputs[0], exp.inputs[1], mid))
    mult, shift, q = int8_requant(exp, ctx, x, w, e, ge["out_c"])
    folded = folded_bias(exp, ctx, w, q["input_offset"], 0) if ctx.target.optimized else None
    base = ctx.struct("band_expand", "td_conv2d_s8_params", {**ge, **q})
    args, dest = f"x + first * ROW_X, {ctx.ptr(w)}, {bias_ptr(exp, ctx, 2, 'int32_t')}", "band + (first - a) * ROW_E"
    if folded is None:
        ctx.kernel("conv2d_s8")
        call = f"td_conv2d_s8(&g, {args}, {mult}, {shift}, {dest});"
    else:
        ctx.kernel("conv2d_s8_opt")
        fe = ctx.const("band_expand_folded", folded, "int32_t")
        call = f"td_conv2d_s8_opt(&g, {args}, {fe}, {mult}, {shift}, {dest});"
    return f"{{ td_conv2d_s8_params g = *{base}; g.in_h = g.out_h = b - first; {call} }}"


def _depthwise_code(ctx, dw: Operator, gd: dict[str, int], band: str, mid: int) -> str:  # type: ignore[no-untyped-def]
    """D rows [r, r + n) = the depthwise of the band (E rows [a, b), the top padding left above row a)."""
    from tinydeploy.aot.ops.conv2d import bias_ptr, folded_bias, int8_requant

    fast = band_call(ctx, dw, {mid: band}) if ctx.target.optimized else None
    if fast is not None:
        return fast.code("band", "out + r * ROW_D", "b - a", "n", "top < 0 ? -top : 0")
    e, w, d = (ctx.model.tensors[t] for t in (mid, dw.inputs[1], dw.outputs[0]))
    mult, shift, q = int8_requant(dw, ctx, e, w, d, gd["out_c"])
    # Helium targets whose own lowering declines the layer (e.g. a depth multiplier of 2) run the reference
    # kernel: the C/DSP depthwise kernel's Helium path gave 2 values off TFLM in bands on qemu-m55
    mve = ctx.target.mve
    folded = folded_bias(dw, ctx, w, q["input_offset"], 3) if ctx.target.optimized and not mve else None
    base = ctx.struct("band_depthwise", "td_depthwise_conv2d_s8_params", {**gd, **q})
    args = f"band, {ctx.ptr(w)}, {bias_ptr(dw, ctx, 2, 'int32_t')}"
    if folded is None:
        ctx.kernel("depthwise_conv2d_s8")
        call = f"td_depthwise_conv2d_s8(&g, {args}, {mult}, {shift}, out + r * ROW_D);"
    else:
        ctx.kernel("depthwise_conv2d_s8_opt")
        fd = ctx.const("band_depthwise_folded", folded, "int32_t")
        call = f"td_depthwise_conv2d_s8_opt(&g, {args}, {fd}, {mult}, {shift}, out + r * ROW_D);"
    return (f"{{ td_depthwise_conv2d_s8_params g = *{base}; g.in_h = b - a; g.pad_h = top < 0 ? -top : 0; "
            f"g.out_h = n; {call} }}")

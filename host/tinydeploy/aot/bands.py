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
requantization: bit-exact.  Windows of neighbouring bands overlap by (k - 1) * dilation + 1 - stride rows,
which are expanded again: the extra instructions are reported by bench/aot_speed.py.  E takes no arena
bytes; X lives until the depthwise op, and the scratch band only during it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinydeploy.model.graph import Model

BAND_FRACTION = 8  # a band holds about 1/8 of the expanded tensor (at least one output row's window)


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


def emit_bands(ctx, cand: ExpandBand) -> str:  # type: ignore[no-untyped-def]
    """The depthwise op's new code (band loop); raises ValueError / UnsupportedOpError when the pair does
    not fit the scheme."""
    from tinydeploy.aot.ops.conv2d import bias_ptr, conv_geometry, folded_bias, int8_requant

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
    mult_e, shift_e, q_e = int8_requant(exp, ctx, x, we, e, ge["out_c"])
    mult_d, shift_d, q_d = int8_requant(dw, ctx, e, wd, d, gd["out_c"])
    # Helium targets run the reference depthwise kernel here: the C/DSP depthwise kernel's Helium path is
    # not what their depthwise layers use (depthwise_conv2d_s8_mve), and a band through it differed on
    # qemu-m55 (mobilenet_v1_025, 2 values)
    optimized = ctx.target.optimized
    fold_e = folded_bias(exp, ctx, we, q_e["input_offset"], 0) if optimized else None
    fold_d = folded_bias(dw, ctx, wd, q_d["input_offset"], 3) if optimized and not ctx.target.mve else None
    row_e, row_x, row_d = ge["in_w"] * ge["out_c"], ge["in_w"] * ge["in_c"], gd["out_w"] * gd["out_c"]
    s, span = gd["stride_h"], (gd["k_h"] - 1) * gd["dil_h"] + 1

    def window(n: int) -> int:  # E rows the windows of n output rows need
        return (n - 1) * s + span

    n = 1
    while n < gd["out_h"] and window(n + 1) * row_e <= e.nbytes // BAND_FRACTION:
        n += 1
    band = ctx.scratch(dw, min(window(n), ge["out_h"]) * row_e)
    base_e = ctx.struct("band_expand", "td_conv2d_s8_params", {**ge, **q_e})
    base_d = ctx.struct("band_depthwise", "td_depthwise_conv2d_s8_params", {**gd, **q_d})
    bias_e, bias_d = bias_ptr(exp, ctx, 2, "int32_t"), bias_ptr(dw, ctx, 2, "int32_t")
    we_p, wd_p = ctx.ptr(we), ctx.ptr(wd)
    if fold_e is None:
        ctx.kernel("conv2d_s8")
        expand = f"td_conv2d_s8(&ge, x + a * ROW_X, {we_p}, {bias_e}, {mult_e}, {shift_e}, band);"
    else:
        ctx.kernel("conv2d_s8_opt")
        fe = ctx.const("band_expand_folded", fold_e, "int32_t")
        expand = f"td_conv2d_s8_opt(&ge, x + a * ROW_X, {we_p}, {bias_e}, {fe}, {mult_e}, {shift_e}, band);"
    if fold_d is None:
        ctx.kernel("depthwise_conv2d_s8")
        depthwise = f"td_depthwise_conv2d_s8(&gd, band, {wd_p}, {bias_d}, {mult_d}, {shift_d}, out + r * ROW_D);"
    else:
        ctx.kernel("depthwise_conv2d_s8_opt")
        fd = ctx.const("band_depthwise_folded", fold_d, "int32_t")
        depthwise = (f"td_depthwise_conv2d_s8_opt(&gd, band, {wd_p}, {bias_d}, {fd}, {mult_d}, {shift_d}, "
                     f"out + r * ROW_D);")
    name = e.name.replace("*/", "* /")[:60]
    return f"""{{ /* op #{exp.index} (1x1 expansion to '{name}') and this depthwise run in bands of {n} rows */
  enum {{ ROW_X = {row_x}, ROW_D = {row_d}, ROWS = {n}, STRIDE = {s}, SPAN = {span} }};
  const int8_t *const x = {ctx.ptr(x)};
  int8_t *const band = (int8_t *){band};
  int8_t *const out = {ctx.ptr(d)};
  for (int32_t r = 0; r < {gd['out_h']}; r += ROWS) {{
    td_conv2d_s8_params ge = *{base_e};
    td_depthwise_conv2d_s8_params gd = *{base_d};
    const int32_t n = gd.out_h - r < ROWS ? gd.out_h - r : ROWS;
    const int32_t top = r * STRIDE - gd.pad_h;
    const int32_t a = top > 0 ? top : 0;
    const int32_t end = top + (n - 1) * STRIDE + SPAN;
    const int32_t b = end < gd.in_h ? end : gd.in_h;
    ge.in_h = ge.out_h = b - a;
    {expand}
    gd.in_h = b - a;
    gd.pad_h = top < 0 ? -top : 0;
    gd.out_h = n;
    {depthwise}
  }}
}}"""

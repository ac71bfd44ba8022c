"""MIRROR_PAD (REFLECT and SYMMETRIC; float32 and int8, the types TFLite Micro runs), up to 6-D.

Each output index maps to one input index per axis: inside the input it is itself, in the left padding the
mirror image about the first element (REFLECT leaves the edge element out, SYMMETRIC repeats it), in the
right padding the mirror image about the last.  The generator tabulates the input element offset of every
output index of every axis (sum of the output's dims entries) and the kernel sums one entry per axis.
"""

from __future__ import annotations

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.aot.ops.transpose import MAX_DIMS, c_array, const_ints, contiguous_strides
from tinydeploy.model.graph import Operator

TYPES = ("float32", "int8")
MODES = {0: "REFLECT", 1: "SYMMETRIC"}


def mirror_source(p: int, before: int, size: int, edge: int) -> int:
    """The input index output index p reads on an axis of `size` padded by `before` (edge 1: REFLECT)."""
    if p < before:
        return before - 1 + edge - p
    if p - before >= size:
        return size - 1 - edge - (p - before - size)
    return p - before


@lowering("MIRROR_PAD")
def lower_mirror_pad(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    if x.dtype != y.dtype or x.dtype not in TYPES:
        raise ctx.unsupported(op, f"types {x.dtype} -> {y.dtype}; TFLite Micro's MIRROR_PAD runs float32 and int8")
    mode = int(op.options.get("mode", 0))
    if mode not in MODES:
        raise ctx.unsupported(op, f"mirror padding mode {mode}")
    edge = 1 if MODES[mode] == "REFLECT" else 0
    rank = len(x.shape)
    if not 1 <= rank <= MAX_DIMS:
        raise ctx.unsupported(op, f"{rank}-D tensors are not supported (1-D to 6-D)")
    pads = const_ints(op, ctx, 1, "paddings").reshape(-1)
    if pads.size != 2 * rank:
        raise ctx.unsupported(op, f"paddings has {pads.size} values; expected {2 * rank}")
    pads = pads.reshape(rank, 2)
    for k, d in enumerate(x.shape):
        if pads[k].min() < 0 or pads[k].max() > d - edge:
            raise ctx.unsupported(op, f"paddings {pads[k].tolist()} on axis {k} exceed what {MODES[mode]} can "
                                      f"mirror from {d} values")
    out_dims = [int(d + pads[k, 0] + pads[k, 1]) for k, d in enumerate(x.shape)]
    if tuple(out_dims) != tuple(y.shape):
        raise ctx.unsupported(op, f"output shape {list(y.shape)} differs from the padded {out_dims}")
    if y.size == 0:
        return
    strides = contiguous_strides(x.shape)
    extra = MAX_DIMS - rank
    table: list[int] = [0] * extra  # one zero entry per leading size-1 axis
    starts = list(range(extra))
    for k, d in enumerate(x.shape):
        starts.append(len(table))
        table += [mirror_source(p, int(pads[k, 0]), int(d), edge) * strides[k] for p in range(out_dims[k])]
    offsets = ctx.const("mirror_offsets", table, "int32_t")
    params = ctx.struct("mirror", "td_mirror_pad6", {
        "out_dims": c_array([1] * extra + out_dims), "table_start": c_array(starts), "src_offsets": offsets})
    ctx.kernel("mirror_pad")
    ctx.emit(f"td_mirror_pad({ctx.ptr(x)}, {ctx.ptr(y)}, {x.numpy_dtype.itemsize}, {params});")

"""The Helium kernels (conv2d_s8_mve, depthwise_conv2d_s8_mve, td_requant_mve.h, add_s8_mve, mul_s8_mve,
pool_s8_mve) on the emulated Cortex-M55 give exactly TFLM's outputs.

One model of randomized int8 CONV_2D / DEPTHWISE_CONV_2D cases shaped to reach every path of the two kernels:
input depths across 16-lane chunks with and without a tail, 1x1 rows read in place (stride 1 and 2) and
im2col rows, output channels not a multiple of 4 (conv) or 8 (depthwise), odd pixel counts (a lone last
pixel), batch 2, SAME padding (clipped depthwise windows, zero-point taps in im2col), dilation, whole 3x3
depthwise windows, and output scales that make multipliers > 1 (left shifts) or tiny (long right shifts,
rounding of negative values); int8 ADD and MUL cases (dense with dense, with a single value, row tails) and
FULLY_CONNECTED cases (test_aot_core's generator).  Rendered for qemu-m55, built with the device harness, run under QEMU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aotutil import assert_exact_on_qemu, build_qemu_firmware, random_inputs
from aotutil_builder import ModelCases, OpSpec, TensorSpec
from test_aot_core import _fc_case
from tinydeploy.aot.lowering import compute_out_size
from tinydeploy.boards import get_board

pytestmark = [pytest.mark.qemu, pytest.mark.slow]

ACTS = ["NONE", "RELU", "RELU6"]


def _zp(rng: np.random.Generator) -> int:
    return int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))]))


def _case(c: ModelCases, rng: np.random.Generator, depthwise: bool, pointwise: bool, wide3x3: bool = False) -> None:
    """wide3x3: a 3x3 filter over 16-44 channels (several groups of eight; often a multiple of 8, whose rows of
    whole windows td_dw9_mve runs in one call) with dense weights."""
    while True:
        in_h, in_w = (int(rng.integers(4, 9)), int(rng.integers(4, 9))) if wide3x3 else (int(rng.integers(1, 9)),
                                                                                        int(rng.integers(1, 9)))
        in_c = (8 * int(rng.integers(2, 6)) if rng.random() < 0.6 else int(rng.integers(17, 45))) if wide3x3 \
            else int(rng.integers(1, 45))
        k_h, k_w = (1, 1) if pointwise else (3, 3) if wide3x3 or rng.random() < 0.4 else (int(rng.integers(1, 5)),
                                                                                         int(rng.integers(1, 5)))
        stride_h, stride_w = (int(rng.integers(1, 3)),) * 2 if rng.random() < 0.7 else (int(rng.integers(1, 4)),
                                                                                        int(rng.integers(1, 4)))
        dil_h, dil_w = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if rng.random() < 0.2 else (1, 1)
        padding = "VALID" if pointwise and rng.random() < 0.7 else str(rng.choice(["SAME", "VALID"]))
        out_h = compute_out_size(padding, in_h, k_h, stride_h, dil_h)
        out_w = compute_out_size(padding, in_w, k_w, stride_w, dil_w)
        if out_h >= 1 and out_w >= 1:
            break
    batches = 2 if rng.random() < 0.2 else 1
    out_c = in_c if depthwise else int(rng.integers(1, 14))
    w_shape = (1, k_h, k_w, out_c) if depthwise else (out_c, k_h, k_w, in_c)
    in_scale = float(np.exp(rng.uniform(np.log(1e-3), np.log(0.5))))
    per_channel = rng.random() < 0.8
    w_scales = np.exp(rng.uniform(np.log(1e-4), np.log(0.05), out_c if per_channel else 1)).astype(np.float32)
    x = c.tensor(TensorSpec((batches, in_h, in_w, in_c), "int8", scale=in_scale, zero_point=_zp(rng)))
    # a quarter of the cases: sparse +-1 weights, small biases and an output scale below the accumulator's
    # (multipliers around 1: left shifts, and short right shifts that round many negative halves) with outputs
    # still inside the code range
    fine = rng.random() < 0.25 and not wide3x3
    w_data = rng.choice([-1, 0, 0, 0, 0, 1], size=w_shape) if fine else rng.integers(-127, 128, size=w_shape)
    w = c.tensor(TensorSpec(w_shape, "int8", data=w_data.astype(np.int8), scale=w_scales, axis=3 if depthwise else 0))
    ins = [x, w]
    if rng.random() < 0.85:
        b_scales = np.broadcast_to(w_scales * np.float32(in_scale), (out_c,))
        b_range = 60 if fine else 20000
        ins.append(c.tensor(TensorSpec((out_c,), "int32", data=rng.integers(-b_range, b_range, out_c).astype(np.int32),
                                       scale=b_scales, axis=0)))
    depth = k_h * k_w * (1 if depthwise else in_c)
    acc_scale = in_scale * float(w_scales.mean()) * np.sqrt(depth) * 60
    out_scale = float(in_scale * float(w_scales.mean()) / np.exp(rng.uniform(-2, 2)) if fine
                      else acc_scale * np.exp(rng.uniform(-3, 1.5)))
    # an output zero point inside the range: at 127 a ReLU would pin every output there
    y = c.tensor(TensorSpec((batches, out_h, out_w, out_c), "int8", scale=out_scale,
                            zero_point=int(rng.integers(-128, 64))))
    options = {"padding": padding, "stride_w": stride_w, "stride_h": stride_h,
               "fused_activation_function": str(rng.choice(ACTS)), "dilation_w_factor": dil_w,
               "dilation_h_factor": dil_h}
    if depthwise:
        options["depth_multiplier"] = 1
    c.ops.append(OpSpec("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", ins, [y], options))
    c.inputs.append(x)
    c.outputs.append(y)


def _add_case(c: ModelCases, rng: np.random.Generator, broadcast: bool, opcode: str = "ADD",
              single_first: bool = False) -> None:
    """int8 ADD or MUL of two dense rows (a residual) or of a row and a single value (single_first: the single
    value is the first operand, which the kernels swap to the second side), lengths not a multiple of 4; ADD: the scales make either input the larger (its multiplier 1/2: shift 0) and the output scale
    varies; MUL: output scales from well above the product's (right shifts) to below it (left shifts)."""
    shape = (1, int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 20)))
    scales = np.exp(rng.uniform(np.log(0.01), np.log(0.2), 3))
    if opcode == "MUL":
        scales[2] = scales[0] * scales[1] * np.exp(rng.uniform(-2, 8))
    a = c.tensor(TensorSpec((1,) if single_first else shape, "int8", scale=float(scales[0]), zero_point=_zp(rng)))
    b = c.tensor(TensorSpec((1,) if broadcast and not single_first else shape, "int8", scale=float(scales[1]),
                            zero_point=_zp(rng)))
    y = c.tensor(TensorSpec(shape, "int8", scale=float(scales[2]), zero_point=int(rng.integers(-128, 64))))
    c.ops.append(OpSpec(opcode, [a, b], [y], {"fused_activation_function": str(rng.choice(ACTS))}))
    c.inputs.extend([a, b])
    c.outputs.append(y)


def _dw_rows_case(c: ModelCases, rng: np.random.Generator, in_shape: tuple[int, int, int, int], stride: int,
                  padding: str) -> None:
    """A 3x3 depthwise layer whose rows hold runs of whole windows over channels a multiple of 8 (td_dw9_mve
    takes a run in one call, stepping its tap pointers from pixel to pixel)."""
    channels = in_shape[3]
    in_scale, w_scales = 0.02, np.exp(rng.uniform(np.log(1e-3), np.log(0.03), channels)).astype(np.float32)
    out_h = compute_out_size(padding, in_shape[1], 3, stride, 1)
    out_w = compute_out_size(padding, in_shape[2], 3, stride, 1)
    x = c.tensor(TensorSpec(in_shape, "int8", scale=in_scale, zero_point=int(rng.integers(-128, 128))))
    w = c.tensor(TensorSpec((1, 3, 3, channels), "int8", data=rng.integers(-127, 128, (1, 3, 3, channels)).astype(np.int8),
                            scale=w_scales, axis=3))
    bias = c.tensor(TensorSpec((channels,), "int32", data=rng.integers(-20000, 20000, channels).astype(np.int32),
                               scale=w_scales * np.float32(in_scale), axis=0))
    out_scale = float(in_scale * w_scales.mean() * 3 * 60 * np.exp(rng.uniform(-2, 0)))
    y = c.tensor(TensorSpec((in_shape[0], out_h, out_w, channels), "int8", scale=out_scale,
                            zero_point=int(rng.integers(-100, 60))))
    c.ops.append(OpSpec("DEPTHWISE_CONV_2D", [x, w, bias], [y], {
        "padding": padding, "stride_w": stride, "stride_h": stride, "fused_activation_function": "NONE",
        "dilation_w_factor": 1, "dilation_h_factor": 1, "depth_multiplier": 1}))
    c.inputs.append(x)
    c.outputs.append(y)


def _first_layer_case(c: ModelCases, rng: np.random.Generator, in_shape: tuple[int, int, int, int],
                      k: tuple[int, int], stride: int, padding: str, out_c: int) -> None:
    """A CONV_2D over few channels (k_w * in_c <= 16: each window row one predicated copy into im2col)."""
    in_c, in_scale = in_shape[3], 0.02
    w_scales = np.exp(rng.uniform(np.log(1e-3), np.log(0.03), out_c)).astype(np.float32)
    out_h = compute_out_size(padding, in_shape[1], k[0], stride, 1)
    out_w = compute_out_size(padding, in_shape[2], k[1], stride, 1)
    w_shape = (out_c, k[0], k[1], in_c)
    x = c.tensor(TensorSpec(in_shape, "int8", scale=in_scale, zero_point=int(rng.integers(-128, 128))))
    w = c.tensor(TensorSpec(w_shape, "int8", data=rng.integers(-127, 128, w_shape).astype(np.int8), scale=w_scales,
                            axis=0))
    out_scale = float(in_scale * w_scales.mean() * np.sqrt(k[0] * k[1] * in_c) * 60 * np.exp(rng.uniform(-2, 0)))
    y = c.tensor(TensorSpec((in_shape[0], out_h, out_w, out_c), "int8", scale=out_scale,
                            zero_point=int(rng.integers(-100, 60))))
    c.ops.append(OpSpec("CONV_2D", [x, w], [y], {
        "padding": padding, "stride_w": stride, "stride_h": stride, "fused_activation_function": "RELU6",
        "dilation_w_factor": 1, "dilation_h_factor": 1}))
    c.inputs.append(x)
    c.outputs.append(y)


def _global_average_cases(c: ModelCases, rng: np.random.Generator) -> None:
    """Global averages on pool_s8_mve: AVERAGE_POOL_2D with one window from the corner spanning the width
    (the whole input, or VALID short of the bottom rows) and MEAN over H, W (keep_dims either way, axes
    written negative too), channels with and without a tail of the 16-channel step, one of each over more
    than 256 pixels (two int16 runs), batch 2, an output scale unlike the input's for MEAN."""
    shapes = [(1, 17, 16, 24), (2, 5, 3, 7), (1, 3, 3, 40), (1, 20, 15, 16), (2, 4, 6, 33), (1, 1, 1, 5)]
    for k, shape in enumerate(shapes):
        scale, zp = float(rng.uniform(0.01, 0.1)), int(rng.integers(-128, 128))
        x = c.tensor(TensorSpec(shape, "int8", scale=scale, zero_point=zp))
        if k % 2 == 0:
            fh = shape[1] - (1 if k == 2 else 0)
            y = c.tensor(TensorSpec((shape[0], 1, 1, shape[3]), "int8", scale=scale, zero_point=zp))
            c.ops.append(OpSpec("AVERAGE_POOL_2D", [x], [y], {
                "padding": "VALID", "stride_w": shape[2] + 2, "stride_h": shape[1] + 2, "filter_width": shape[2],
                "filter_height": fh, "fused_activation_function": str(rng.choice(ACTS))}))
        else:
            keep = k != 3
            axes = c.tensor(TensorSpec((2,), "int32", data=np.array([1, 2] if k != 5 else [-3, -2], np.int32)))
            y = c.tensor(TensorSpec((shape[0], 1, 1, shape[3]) if keep else (shape[0], shape[3]), "int8",
                                    scale=scale * float(rng.uniform(0.3, 2)), zero_point=int(rng.integers(-100, 100))))
            c.ops.append(OpSpec("MEAN", [x, axes], [y], {"keep_dims": keep}))
        c.inputs.append(x)
        c.outputs.append(y)


def _random_model(seed: int, count: int) -> Path:
    rng = np.random.default_rng(seed)
    c = ModelCases()
    for i in range(count):
        _case(c, rng, depthwise=i % 3 == 1, pointwise=i % 3 == 2)
    for i in range(6):
        _add_case(c, rng, broadcast=i % 3 == 2)
    for _ in range(3):
        _case(c, rng, depthwise=True, pointwise=False, wide3x3=True)
    for i in range(5):
        _add_case(c, rng, broadcast=i % 2 == 1, opcode="MUL")
    _add_case(c, rng, broadcast=True, single_first=True)
    _add_case(c, rng, broadcast=True, opcode="MUL", single_first=True)
    # MUL by a constant one code above its zero point with a multiplier of 1.5-4 (a left shift of 1-2):
    # products stay small enough not to saturate
    a = c.tensor(TensorSpec((1, 3, 5, 7), "int8", scale=0.05, zero_point=3))
    one = c.tensor(TensorSpec((1,), "int8", data=np.array([-9], np.int8), scale=0.1, zero_point=-10))
    y = c.tensor(TensorSpec((1, 3, 5, 7), "int8", scale=0.005 / float(rng.uniform(1.5, 4)), zero_point=-5))
    c.ops.append(OpSpec("MUL", [a, one], [y], {"fused_activation_function": "NONE"}))
    c.inputs.append(a)
    c.outputs.append(y)
    _first_layer_case(c, rng, (1, 9, 9, 3), (3, 3), 2, "SAME", 8)
    _first_layer_case(c, rng, (1, 12, 5, 1), (4, 2), 1, "VALID", 6)
    _dw_rows_case(c, rng, (1, 6, 7, 16), 1, "SAME")
    _dw_rows_case(c, rng, (2, 9, 9, 24), 2, "VALID")
    for _ in range(4):
        _fc_case(c, rng, floating=False)  # FULLY_CONNECTED runs as a 1x1 convolution on conv2d_s8_mve
    _global_average_cases(c, rng)
    return c.write()


def test_helium_kernels_exact_on_qemu_m55(tmp_path: Path) -> None:
    board = get_board("qemu-m55")
    path = _random_model(1700, 36)
    elf = build_qemu_firmware(path, board, tmp_path / "fw", tx_buf=16384)  # room for every output
    source = (tmp_path / "fw" / "src" / "model.c").read_text()
    kernels = ("td_conv2d_s8_mve", "td_depthwise_conv2d_s8_mve", "td_add_s8_mve", "td_mul_s8_mve",
               "td_global_avg_pool_s8_mve", "td_mean_hw_s8_mve")
    assert all(f"{k}(" in source for k in kernels)
    # each layer's descriptor names the code it needs: in-place rows and im2col, the per-pixel depthwise path
    # or none (3x3 over whole groups of eight, _dw_rows_case)
    assert all(f".{k}" in source for k in ("field = td_conv2d_s8_mve_row", "field = td_conv2d_s8_mve_im2col",
                                           "rest = td_depthwise_conv2d_s8_mve_pixel", "rest = NULL"))
    # random_inputs: the first three are edge patterns (all min, all max, alternating), then two random
    assert_exact_on_qemu(board, elf, path, random_inputs(path, 5, seed=2))


def test_helium_fully_connected_alone_exact_on_qemu_m55(tmp_path: Path) -> None:
    """A model without convolutions: FULLY_CONNECTED takes td_fully_connected_s8_mve (the short driver: rows in
    place, batches of 1-3 rows, units not a multiple of 4, depths across 16-column chunks), per-tensor weights
    its _pt entry (one multiplier and shift for every unit), exact vs TFLM."""
    board = get_board("qemu-m55")
    rng = np.random.default_rng(1701)
    c = ModelCases()
    for _ in range(6):
        _fc_case(c, rng, floating=False)
    path = c.write()
    elf = build_qemu_firmware(path, board, tmp_path / "fw")
    source = (tmp_path / "fw" / "src" / "model.c").read_text()
    assert "td_fully_connected_s8_mve(" in source and "td_conv2d_s8_mve(" not in source
    assert "td_fully_connected_s8_mve_pt(" in source  # per-tensor weights: the short table
    assert_exact_on_qemu(board, elf, path, random_inputs(path, 5, seed=2))


def test_helium_im2col_rows_on_the_stack_at_the_arena_peak(tmp_path: Path) -> None:
    """A residual block of two 3x3 convolutions over 16 channels (resnet8's): the second runs while the block's
    input waits for the ADD, at the arena's peak, so its two im2col rows (2 x 144 bytes) go in
    td_conv2d_s8_mve_stack's frame; the first keeps its rows in the arena (free bytes there); exact."""
    board = get_board("qemu-m55")
    rng = np.random.default_rng(1702)
    c = ModelCases()
    x = c.tensor(TensorSpec((1, 8, 8, 16), "int8", scale=0.02, zero_point=-7))
    c.inputs.append(x)
    y = x
    for k in range(2):
        w_scales = np.exp(rng.uniform(np.log(1e-3), np.log(0.03), 16)).astype(np.float32)
        w = c.tensor(TensorSpec((16, 3, 3, 16), "int8", data=rng.integers(-127, 128, (16, 3, 3, 16)).astype(np.int8),
                                scale=w_scales, axis=0))
        out = c.tensor(TensorSpec((1, 8, 8, 16), "int8", scale=float(0.02 * w_scales.mean() * 12 * 60),
                                  zero_point=int(rng.integers(-100, 60))))
        c.ops.append(OpSpec("CONV_2D", [y, w], [out], {
            "padding": "SAME", "stride_w": 1, "stride_h": 1, "fused_activation_function": "RELU" if k else "NONE",
            "dilation_w_factor": 1, "dilation_h_factor": 1}))
        y = out
    z = c.tensor(TensorSpec((1, 8, 8, 16), "int8", scale=0.05, zero_point=3))
    c.ops.append(OpSpec("ADD", [x, y], [z], {"fused_activation_function": "NONE"}))
    c.outputs.append(z)
    path = c.write()
    elf = build_qemu_firmware(path, board, tmp_path / "fw")
    source = (tmp_path / "fw" / "src" / "model.c").read_text()
    assert source.count("td_conv2d_s8_mve_stack(") == 1 and source.count("td_conv2d_s8_mve(") == 1
    assert ".scratch = NULL" in source and ".scratch = (int8_t *)" in source
    assert_exact_on_qemu(board, elf, path, random_inputs(path, 5, seed=2))

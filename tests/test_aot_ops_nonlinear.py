"""SOFTMAX, LOGISTIC and TANH aot kernels against the real TFLite Micro interpreter, bit for bit.

The C kernels are compiled with the host gcc into a shared library and called through ctypes with the
parameters the lowering computes (tinydeploy.aot.ops.nonlinear); the reference is TFLM's host interpreter
running single-op models converted by TensorFlow (batch 1, full int8 PTQ, int8 I/O) at several input
scales, from ones that keep every input in the kernels' fixed-point range to ones that saturate.
The LUT path (optimized=True) is checked against the same interpreter.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tinydeploy.aot.ops import nonlinear as nl
from tinydeploy.model.graph import Model, parse_model
from tinydeploy.paths import firmware_dir

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
pytestmark = [pytest.mark.filterwarnings("ignore:Statistics for quantized inputs:UserWarning"),
              pytest.mark.filterwarnings("ignore:You are using a softmax over axis:UserWarning")]

KERNELS = ["softmax_s8", "softmax_f32", "logistic_s8", "logistic_f32", "tanh_s8", "tanh_f32"]
# Calibration ranges -> input scales from 1/128 (no saturation anywhere) to ~1.6 (most inputs saturate),
# plus an asymmetric one (non-zero input zero point).
RANGES = {"r1": (-1.0, 1.0), "r8": (-8.0, 8.0), "r30": (-30.0, 30.0), "r200": (-200.0, 200.0),
          "asym": (-3.0, 10.0), "tiny": (-0.05, 0.05)}
INT8_CODES = np.arange(-128, 128, dtype=np.int8)

VP = ctypes.c_void_p
I32 = ctypes.c_int32


@pytest.fixture(scope="session")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    src = firmware_dir() / "aot" / "kernels"
    lib = tmp_path_factory.mktemp("nonlinear") / "libnonlinear.so"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", "-shared", "-fPIC",
                    "-o", str(lib), *[str(src / f"{k}.c") for k in KERNELS], "-lm"], check=True)
    dll = ctypes.CDLL(str(lib))
    dll.td_softmax_s8.argtypes = [VP, VP, I32, I32, I32, I32, I32]
    dll.td_softmax_s8_s16.argtypes = [VP, VP, I32, I32, I32, I32, I32]
    dll.td_softmax_f32.argtypes = [VP, VP, I32, I32, ctypes.c_float]
    for name in ("logistic", "tanh"):
        getattr(dll, f"td_{name}_s8").argtypes = [VP, VP, I32, I32, I32, I32, I32]
        getattr(dll, f"td_{name}_s8_lut").argtypes = [VP, VP, I32, VP]
        getattr(dll, f"td_{name}_f32").argtypes = [VP, VP, I32]
    return dll


def _p(a: np.ndarray) -> int:
    return a.ctypes.data


# --- single-op models --------------------------------------------------------------------------------------

_MODEL_CACHE: dict[tuple, bytes] = {}


def single_op_model(kind: str, shape: tuple[int, ...], calib: tuple[float, float] | None) -> bytes:
    """A TF-converted model of one SOFTMAX/LOGISTIC/TANH; int8 PTQ calibrated on `calib`, or float32."""
    key = (kind, shape, calib)
    if key not in _MODEL_CACHE:
        import tensorflow as tf

        inp = tf.keras.Input(shape=shape, batch_size=1)
        layer = {"softmax": tf.keras.layers.Softmax(), "logistic": tf.keras.layers.Activation("sigmoid"),
                 "tanh": tf.keras.layers.Activation("tanh")}[kind]
        converter = tf.lite.TFLiteConverter.from_keras_model(tf.keras.Model(inp, layer(inp)))
        if calib is not None:
            rng = np.random.default_rng(0)

            def representative():
                for _ in range(32):
                    yield [rng.uniform(*calib, size=(1, *shape)).astype(np.float32)]

            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = representative
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        _MODEL_CACHE[key] = converter.convert()
    return _MODEL_CACHE[key]


def patch_model(raw: bytes, *, beta: float | None = None, int16_output: bool = False,
                output_zero_point: int | None = None) -> bytes:
    """Rewrite a softmax model's beta or make its output int16 (scale 1/65536, zero point -32768), which
    the TF converter does not produce from Keras but TFLM supports."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as fb

    model = fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(raw, 0))
    graph = model.subgraphs[0]
    op = graph.operators[0]
    if beta is not None:
        op.builtinOptions.beta = beta
    if int16_output:
        out = graph.tensors[op.outputs[0]]
        out.type = fb.TensorType.INT16
        out.quantization.scale = [1.0 / 65536]
        out.quantization.zeroPoint = [-32768]
    if output_zero_point is not None:
        graph.tensors[op.outputs[0]].quantization.zeroPoint = [output_zero_point]
    builder = flatbuffers.Builder(len(raw) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def tflm_outputs(raw: bytes, inputs: np.ndarray) -> np.ndarray:
    """Run every row of `inputs` (one batch-1 input each) through TFLM's host interpreter."""
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(raw, arena_size=1 << 18)
    shape = interp.get_input_details(0)["shape"]
    outs = []
    for row in inputs:
        interp.set_input(row.reshape(shape), 0)
        interp.invoke()
        outs.append(interp.get_output(0).reshape(-1).copy())
    return np.stack(outs)


def the_op(model: Model):
    ops = [op for op in model.operators if op.opcode in ("SOFTMAX", "LOGISTIC", "TANH")]
    assert [op.opcode for op in model.operators] == [ops[0].opcode], "converter added ops around the one under test"
    op = ops[0]
    return op, model.tensors[op.inputs[0]], model.tensors[op.outputs[0]]


def int8_inputs(size: int, n: int, seed: int) -> np.ndarray:
    """Every int8 code at least once, uniform random rows, and rows bunched near their max (where softmax
    outputs are not all saturated to the minimum)."""
    rng = np.random.default_rng(seed)
    sweep = np.resize(INT8_CODES, ((256 + size - 1) // size) * size).reshape(-1, size)
    uniform = rng.integers(-128, 128, size=(n, size))
    tops = rng.integers(-128, 128, size=(n, 1))
    bunched = np.clip(tops - rng.integers(0, 24, size=(n, size)), -128, 127)
    return np.concatenate([sweep, uniform, bunched]).astype(np.int8)


def assert_same(ours: np.ndarray, theirs: np.ndarray, what: str) -> None:
    diff = np.argwhere(ours != theirs)
    assert diff.size == 0, (f"{what}: {len(diff)} of {ours.size} outputs differ from TFLM; first at "
                            f"{diff[0].tolist()}: ours {ours[tuple(diff[0])]}, TFLM {theirs[tuple(diff[0])]}")


# --- SOFTMAX int8 ----------------------------------------------------------------------------------------


def run_softmax_s8(kernels: ctypes.CDLL, raw: bytes, inputs: np.ndarray) -> np.ndarray:
    model = parse_model(raw)
    op, x, y = the_op(model)
    p = nl.softmax_params(op.options["beta"], float(x.quant.scale[0]))
    depth = x.shape[-1]
    out_dtype = np.int16 if y.dtype == "int16" else np.int8
    fn = kernels.td_softmax_s8_s16 if y.dtype == "int16" else kernels.td_softmax_s8
    outs = np.zeros((len(inputs), x.size), out_dtype)
    for row, out in zip(inputs, outs):
        row = np.ascontiguousarray(row)
        fn(_p(row), _p(out), x.size // depth, depth, p.beta_multiplier, p.beta_left_shift, p.diff_min)
    return outs


@pytest.mark.parametrize("calib", list(RANGES))
def test_softmax_s8_matches_tflm(kernels: ctypes.CDLL, calib: str) -> None:
    raw = single_op_model("softmax", (10,), RANGES[calib])
    inputs = int8_inputs(10, 150, seed=1)
    assert_same(run_softmax_s8(kernels, raw, inputs), tflm_outputs(raw, inputs), f"softmax int8 {calib}")


@pytest.mark.parametrize("shape", [(3, 5, 7), (512,), (1,)])
def test_softmax_s8_shapes(kernels: ctypes.CDLL, shape: tuple[int, ...]) -> None:
    """Several rows per tensor, a long row (large sum of exps), a single element."""
    raw = single_op_model("softmax", shape, RANGES["r8"])
    size = int(np.prod(shape))
    inputs = int8_inputs(size, 20, seed=2)
    assert_same(run_softmax_s8(kernels, raw, inputs), tflm_outputs(raw, inputs), f"softmax int8 {shape}")


@pytest.mark.parametrize("beta", [0.1, 0.5, 2.0, 7.3, 1000.0])
def test_softmax_s8_beta(kernels: ctypes.CDLL, beta: float) -> None:
    raw = patch_model(single_op_model("softmax", (10,), RANGES["r8"]), beta=beta)
    inputs = int8_inputs(10, 100, seed=3)
    assert_same(run_softmax_s8(kernels, raw, inputs), tflm_outputs(raw, inputs), f"softmax int8 beta={beta}")


@pytest.mark.parametrize("calib", ["r1", "r30"])
def test_softmax_s8_to_s16(kernels: ctypes.CDLL, calib: str) -> None:
    raw = patch_model(single_op_model("softmax", (10,), RANGES[calib]), int16_output=True)
    inputs = int8_inputs(10, 100, seed=4)
    theirs = tflm_outputs(raw, inputs)
    assert theirs.dtype == np.int16
    assert_same(run_softmax_s8(kernels, raw, inputs), theirs, f"softmax int8->int16 {calib}")


# --- LOGISTIC / TANH int8 ----------------------------------------------------------------------------------

REFERENCE_FN = {"logistic": nl.logistic_s8_reference, "tanh": nl.tanh_s8_reference}


@pytest.mark.parametrize("kind", ["logistic", "tanh"])
@pytest.mark.parametrize("calib", list(RANGES))
def test_saturating_s8_matches_tflm(kernels: ctypes.CDLL, kind: str, calib: str) -> None:
    """Both the fixed-point kernel and the LUT kernel, over every int8 input code."""
    raw = single_op_model(kind, (256,), RANGES[calib])
    _, x, _ = the_op(parse_model(raw))
    p = nl.saturating_params(float(x.quant.scale[0]), int(x.quant.zero_point[0]))
    theirs = tflm_outputs(raw, INT8_CODES[None, :])[0]

    ours = np.zeros(256, np.int8)
    getattr(kernels, f"td_{kind}_s8")(_p(INT8_CODES), _p(ours), 256, p.input_zero_point, p.range_radius,
                                      p.multiplier, p.left_shift)
    assert_same(ours, theirs, f"{kind} int8 {calib} (fixed-point kernel)")

    lut = nl.lut_s8(REFERENCE_FN[kind], p)
    via_lut = np.zeros(256, np.int8)
    getattr(kernels, f"td_{kind}_s8_lut")(_p(INT8_CODES), _p(via_lut), 256, _p(lut))
    assert_same(via_lut, theirs, f"{kind} int8 {calib} (LUT kernel)")


@pytest.mark.parametrize("kind", ["logistic", "tanh"])
def test_lut_equals_fixed_point_kernel_over_many_scales(kernels: ctypes.CDLL, kind: str) -> None:
    """The Python replay of the fixed-point algorithm (which builds the LUTs) agrees with the C kernel for
    scales from 1e-4 to 20 and arbitrary zero points, including where the input radius goes to zero."""
    rng = np.random.default_rng(5)
    scales = np.concatenate([np.float32(10.0) ** rng.uniform(-4, 1.3, size=60), [1 / 256, 1 / 16, 16.0, 20.0]])
    for scale in scales.astype(np.float32):
        zp = int(rng.integers(-128, 128))
        p = nl.saturating_params(float(scale), zp)
        ours = np.zeros(256, np.int8)
        getattr(kernels, f"td_{kind}_s8")(_p(INT8_CODES), _p(ours), 256, p.input_zero_point, p.range_radius,
                                          p.multiplier, p.left_shift)
        assert_same(nl.lut_s8(REFERENCE_FN[kind], p), ours, f"{kind} LUT vs kernel, scale {scale}, zp {zp}")


def test_kernels_run_in_place(kernels: ctypes.CDLL) -> None:
    p = nl.saturating_params(0.05, 3)
    data = INT8_CODES.copy()
    expected = np.zeros(256, np.int8)
    kernels.td_tanh_s8(_p(data), _p(expected), 256, p.input_zero_point, p.range_radius, p.multiplier, p.left_shift)
    kernels.td_tanh_s8(_p(data), _p(data), 256, p.input_zero_point, p.range_radius, p.multiplier, p.left_shift)
    assert_same(data, expected, "tanh in place")

    sp = nl.softmax_params(1.0, 0.05)
    rows = int8_inputs(16, 10, seed=6)
    expected = np.zeros_like(rows)
    kernels.td_softmax_s8(_p(rows), _p(expected), len(rows), 16, sp.beta_multiplier, sp.beta_left_shift, sp.diff_min)
    kernels.td_softmax_s8(_p(rows), _p(rows), len(rows), 16, sp.beta_multiplier, sp.beta_left_shift, sp.diff_min)
    assert_same(rows, expected, "softmax in place")


# --- float32 -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["softmax", "logistic", "tanh"])
def test_float_kernels_match_tflm_bitwise(kernels: ctypes.CDLL, kind: str) -> None:
    """On the host both use glibc's expf/tanhf, so the float results must be bit-identical; inputs span
    TFLM's logistic cut-offs (-9, 16.6) and values where softmax terms underflow."""
    raw = single_op_model(kind, (64,), None)
    rng = np.random.default_rng(7)
    inputs = (rng.standard_normal((100, 64)) * np.array([0.1, 1, 5, 20, 100])[np.arange(100) % 5, None])
    inputs = inputs.astype(np.float32)
    theirs = tflm_outputs(raw, inputs)
    ours = np.zeros_like(inputs)
    for row, out in zip(inputs, ours):
        row = np.ascontiguousarray(row)
        if kind == "softmax":
            kernels.td_softmax_f32(_p(row), _p(out), 1, 64, 1.0)
        else:
            getattr(kernels, f"td_{kind}_f32")(_p(row), _p(out), 64)
    assert_same(ours.view(np.int32), theirs.view(np.int32), f"{kind} float32 (bit patterns)")


# --- parameters ----------------------------------------------------------------------------------------------


def test_softmax_params_known_values() -> None:
    """Input scale 1/16, beta 1: real multiplier 2^22 -> Q31 2^30 with left shift 23; the radius is
    floor(31 * 2^26 / 2^23) = 248."""
    p = nl.softmax_params(1.0, 1 / 16)
    assert (p.beta_multiplier, p.beta_left_shift, p.diff_min) == (1 << 30, 23, -248)


def test_saturating_params_known_values() -> None:
    """Scale 1/32: 2^27 / 32 = 2^22 = 0.5 * 2^23 -> multiplier 2^30, shift 23, radius floor(15 * 2^27 / 2^23)."""
    p = nl.saturating_params(1 / 32, -5)
    assert (p.multiplier, p.left_shift, p.range_radius, p.input_zero_point) == (1 << 30, 23, 240, -5)


# --- end to end: generated C (tinydeploy.aot.codegen) vs TFLM, through tests/aotutil.py -----------------------


def _keras_layer(kind: str):
    import tf_keras as keras

    if kind == "softmax":
        return keras.layers.Softmax()
    return keras.layers.Activation("sigmoid" if kind == "logistic" else "tanh")


@pytest.mark.parametrize("optimized", [True, False], ids=["optimized", "reference"])
@pytest.mark.parametrize("kind", ["softmax", "logistic", "tanh"])
@pytest.mark.parametrize("calib", ["r1", "r30", "asym"])
def test_generated_int8_matches_tflm(kind: str, calib: str, optimized: bool) -> None:
    from aotutil import assert_bitexact_with_tflm, single_op_tflite

    shape = (1, 4, 16)
    path = single_op_tflite(lambda x: _keras_layer(kind)(x), [shape], key=f"nonlinear-{kind}-{calib}-4x16",
                            input_range=RANGES[calib])
    inputs = int8_inputs(16, 60, seed=8).reshape(-1, 4, 16)
    native = assert_bitexact_with_tflm(path, [inputs], optimized=optimized)
    if kind != "softmax":
        uses_lut = "_lut(" in native.program.files["model.c"]
        assert uses_lut == optimized, "LOGISTIC/TANH use the LUT kernel exactly when optimized"


@pytest.mark.parametrize("kind", ["softmax", "logistic", "tanh"])
def test_generated_float_matches_tflm(kind: str) -> None:
    from aotutil import assert_bitexact_with_tflm, random_inputs, single_op_tflite

    path = single_op_tflite(lambda x: _keras_layer(kind)(x), [(1, 3, 20)], key=f"nonlinear-{kind}-f32", int8=False)
    inputs = [x * 8 for x in random_inputs(path, 30, seed=9)]  # [-24, 24): past the logistic cut-offs
    assert_bitexact_with_tflm(path, inputs, optimized=True)


def test_generated_float_softmax_beta(tmp_path: Path) -> None:
    from aotutil import assert_bitexact_with_tflm, random_inputs

    path = tmp_path / "softmax_f32_beta.tflite"
    path.write_bytes(patch_model(single_op_model("softmax", (2, 12), None), beta=0.37))
    assert_bitexact_with_tflm(path, random_inputs(path, 20, seed=11), optimized=True)


@pytest.mark.parametrize("optimized", [True, False], ids=["optimized", "reference"])
def test_generated_softmax_beta_and_int16_output(tmp_path: Path, optimized: bool) -> None:
    from aotutil import assert_bitexact_with_tflm

    base = single_op_model("softmax", (2, 12), RANGES["r8"])
    inputs = int8_inputs(12, 40, seed=10).reshape(-1, 2, 12)
    for name, raw in {"beta": patch_model(base, beta=2.5), "int16": patch_model(base, int16_output=True)}.items():
        path = tmp_path / f"softmax_{name}.tflite"
        path.write_bytes(raw)
        assert_bitexact_with_tflm(path, [inputs], optimized=optimized)


def test_softmax_with_an_output_quantization_tflm_rejects_is_unsupported() -> None:
    from tinydeploy.aot.codegen import generate
    from tinydeploy.errors import UnsupportedOpError

    raw = patch_model(single_op_model("softmax", (10,), RANGES["r8"]), output_zero_point=0)
    with pytest.raises(UnsupportedOpError, match=r"SOFTMAX \(op #0.*zero point -128.*--runtime tflm"):
        generate(parse_model(raw))

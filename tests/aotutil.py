"""Test utility for the aot runtime: build generated C natively, run it, compare with TFLM bit for bit.

Usage (from any test; `from aotutil import ...` works because tests/ is on sys.path under pytest):

    from aotutil import single_op_tflite, assert_bitexact_with_tflm, build_native, random_inputs

    # 1. a one-op model, full-int8 PTQ (int8 input/output), cached by `key` under the test cache:
    path = single_op_tflite(lambda x: tf_keras.layers.ReLU(6.0)(x), [(1, 8, 8, 3)], key="relu6-8x8x3")
    #    build_fn gets one tf_keras Input per shape (full shapes, batch included) and returns the output(s);
    #    plain TF ops (tf.nn.*, tf.reduce_mean, ...) on the Keras tensors work too.
    #    int8=False gives a float model; rep_data=[[x0], [x1], ...] (list of samples, each a list with one
    #    array per input) or a callable yielding such samples overrides the default uniform [-1, 1) data.

    # 2. exactness against TFLM's host interpreter (every output, every sample; fails with the count of
    #    differing values and the max |diff| in LSB):
    assert_bitexact_with_tflm(path, random_inputs(path, 20, seed=0))       # optimized kernels
    assert_bitexact_with_tflm(path, random_inputs(path, 20), optimized=False)  # reference kernels

    # 3. or drive the native build yourself:
    native = build_native(path)                 # gcc -O2 -Wall -Wextra -Werror, cached by content hash
    outs = native.run([x])                      # one sample: arrays shaped like the model inputs
    native.program.arena_bytes, native.program.files["model.c"]

    # 4. for models written byte by byte (arbitrary scales/zero points, any option): see tflite_builder.py.

Batches follow tinydeploy.reference.run_reference: one array per model input, samples along axis 0
((N, *input_shape[1:]) for batch-1 inputs).  random_inputs includes the edge codes -128 and 127.
Cache: $TINYDEPLOY_TEST_CACHE or <tmp>/tinydeploy-aot-cache.
"""

from __future__ import annotations

import ctypes
import hashlib
import inspect
import os
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from tinydeploy.aot.codegen import AotProgram, generate
from tinydeploy.aot.lowering import TargetFeatures
from tinydeploy.model.graph import load_model

HOST_CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off", "-fPIC", "-shared"]
_LOCK = threading.Lock()


def cache_root() -> Path:
    env = os.environ.get("TINYDEPLOY_TEST_CACHE")
    root = Path(env) if env else Path(tempfile.gettempdir()) / f"tinydeploy-aot-cache-{os.getuid()}"
    root.mkdir(parents=True, exist_ok=True)
    return root


# --- native build ----------------------------------------------------------------------------------------


@dataclass
class NativeModel:
    program: AotProgram
    library: Path
    lib: Any  # ctypes.CDLL

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One inference: `inputs` shaped like the model's input tensors; returns one array per output."""
        if len(inputs) != len(self.program.inputs):
            raise ValueError(f"model has {len(self.program.inputs)} inputs, got {len(inputs)}")
        for i, (x, info) in enumerate(zip(inputs, self.program.inputs)):
            arr = np.ascontiguousarray(np.asarray(x, dtype=np.dtype(info.dtype)))
            if arr.size * arr.itemsize != info.nbytes:
                raise ValueError(f"input {i} '{info.name}': {arr.shape} does not fit {info.shape} {info.dtype}")
            ctypes.memmove(self.lib.model_input(i), arr.ctypes.data, info.nbytes)
        status = self.lib.model_invoke()
        if status != 0:
            raise RuntimeError(f"model_invoke returned {status}")
        outs = []
        for i, info in enumerate(self.program.outputs):
            raw = ctypes.string_at(self.lib.model_output(i), info.nbytes)
            outs.append(np.frombuffer(raw, dtype=np.dtype(info.dtype)).reshape(info.shape).copy())
        return outs

    def run_batch(self, batches: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
        """Like run_reference: one batched array per input; returns one batched array per output."""
        arrays = _as_batches(batches, len(self.program.inputs))
        count = arrays[0].shape[0]
        per_sample = []
        for n in range(count):
            sample = [a[n:n + 1] if info.shape[:1] == (1,) else a[n] for a, info in zip(arrays, self.program.inputs)]
            per_sample.append(self.run(sample))
        return [np.stack([s[k].reshape(_sample_shape(info.shape)) for s in per_sample])
                for k, info in enumerate(self.program.outputs)]


def _sample_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(shape[1:]) if shape[:1] == (1,) else tuple(shape)


def _as_batches(inputs: np.ndarray | Sequence[np.ndarray], n_inputs: int) -> list[np.ndarray]:
    if isinstance(inputs, np.ndarray):
        return [inputs]
    arrays = [np.asarray(a) for a in inputs]
    if n_inputs == 1 and len(arrays) != 1:
        return [np.stack(arrays)]
    return arrays


def program_for(model_path: Path, *, optimized: bool = True, target: TargetFeatures | None = None) -> AotProgram:
    target = target or TargetFeatures(cpu="host", optimized=optimized)
    return generate(load_model(model_path), target)


def compile_program(program: AotProgram, *, extra_flags: Sequence[str] = ()) -> Path:
    """Compile a program + its kernels into a shared library under the cache (reused by content hash)."""
    sources = {name: text for name, text in program.files.items()}
    digest = hashlib.sha256()
    for name in sorted(sources):
        digest.update(name.encode() + b"\0" + sources[name].encode() + b"\0")
    for src in program.kernel_sources:
        digest.update(str(src.name).encode() + b"\0" + src.read_bytes() + b"\0")
    for inc in program.include_dirs:
        for header in sorted(inc.glob("*.h")):
            digest.update(header.name.encode() + header.read_bytes())
    flags = HOST_CFLAGS + list(extra_flags)
    digest.update(" ".join(flags).encode())
    key = digest.hexdigest()[:24]
    out_dir = cache_root() / "native" / key
    library = out_dir / "libmodel.so"
    if library.exists():
        return library
    out_dir.mkdir(parents=True, exist_ok=True)
    program.write(out_dir)
    tmp = out_dir / f"libmodel.{os.getpid()}.{threading.get_ident()}.so"
    cmd = ["gcc", *flags, f"-I{out_dir}", *[f"-I{d}" for d in program.include_dirs],
           str(out_dir / "model.c"), *[str(s) for s in program.kernel_sources], "-o", str(tmp), "-lm"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise AssertionError(f"host gcc failed on the generated code in {out_dir}:\n{proc.stderr[-6000:]}")
    tmp.replace(library)
    return library


def build_native(model_path: Path, *, optimized: bool = True, target: TargetFeatures | None = None,
                 extra_flags: Sequence[str] = ()) -> NativeModel:
    """Generate, compile (cached) and load one model for the host.  extra_flags: e.g. ["-DTD_EMULATE_DSP"]
    to run the optimized kernels' Cortex-M DSP algorithm with the instructions emulated in C."""
    program = program_for(Path(model_path), optimized=optimized, target=target)
    library = compile_program(program, extra_flags=extra_flags)
    lib = ctypes.CDLL(str(library))
    lib.model_input.restype = ctypes.c_void_p
    lib.model_input.argtypes = [ctypes.c_int]
    lib.model_output.restype = ctypes.c_void_p
    lib.model_output.argtypes = [ctypes.c_int]
    lib.model_invoke.restype = ctypes.c_int
    return NativeModel(program, library, lib)


# --- the TFLM reference --------------------------------------------------------------------------------


def tflm_outputs(model_path: Path, batches: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    """TFLM host interpreter outputs, batched like run_reference's."""
    try:
        from tinydeploy.reference import run_reference
    except ImportError:
        run_reference = None
    model = load_model(model_path)
    # run_reference reads an input of batch > 1 as one sample per row; such models go to TFLM directly.
    if run_reference is not None and all(t.shape[:1] == (1,) for t in model.input_tensors):
        return run_reference("tflm", Path(model_path), batches)
    return _tflm_direct(Path(model_path), batches)


def _tflm_direct(model_path: Path, batches: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    from tflite_micro.python.tflite_micro import runtime

    model = load_model(model_path)
    arrays = _as_batches(batches, len(model.inputs))
    interp = runtime.Interpreter.from_file(str(model_path))
    per_sample = []
    for n in range(arrays[0].shape[0]):
        for i, (a, t) in enumerate(zip(arrays, model.input_tensors)):
            x = a[n:n + 1] if t.shape[:1] == (1,) else a[n]
            interp.set_input(np.ascontiguousarray(x.reshape(t.shape)), i)
        interp.invoke()
        per_sample.append([np.array(interp.get_output(k)) for k in range(len(model.outputs))])
        interp.reset()
    return [np.stack([s[k].reshape(_sample_shape(t.shape)) for s in per_sample])
            for k, t in enumerate(model.output_tensors)]


def random_inputs(model_path: Path, count: int, *, seed: int = 0, edges: bool = True) -> list[np.ndarray]:
    """`count` random samples per input, batched; integer inputs cover the full range incl. the extreme codes
    (with edges=True the first samples are all-min, all-max and alternating min/max, but at least two samples
    stay random: edge patterns are alike across channels and would hide a kernel that mixes channel groups up);
    float inputs are uniform in [-3, 3)."""
    model = load_model(model_path)
    rng = np.random.default_rng(seed)
    batches = []
    for t in model.input_tensors:
        shape = (count, *_sample_shape(t.shape))
        dtype = t.numpy_dtype
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            arr = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=np.int64).astype(dtype)
            n_edges = min(3, count - 2) if edges else 0
            if n_edges >= 1:
                arr[0] = info.min
            if n_edges >= 2:
                arr[1] = info.max
            if n_edges >= 3:
                arr[2].reshape(-1)[::2] = info.min
                arr[2].reshape(-1)[1::2] = info.max
        else:
            arr = rng.uniform(-3, 3, size=shape).astype(dtype)
        batches.append(arr)
    return batches


def assert_bitexact_with_tflm(model_path: Path, inputs_batch: np.ndarray | Sequence[np.ndarray], *,
                              optimized: bool = True, native: NativeModel | None = None) -> NativeModel:
    """Every output of every sample identical to TFLM's host interpreter; returns the native model."""
    native = native or build_native(Path(model_path), optimized=optimized)
    ours = native.run_batch(inputs_batch)
    ref = tflm_outputs(Path(model_path), inputs_batch)
    assert len(ours) == len(ref), f"{len(ours)} outputs vs TFLM's {len(ref)}"
    for k, (a, b) in enumerate(zip(ours, ref)):
        b = np.asarray(b).reshape(a.shape)
        if a.dtype.kind == "f":
            same = (a.view(np.uint32 if a.itemsize == 4 else np.uint64)
                    == b.astype(a.dtype).view(np.uint32 if a.itemsize == 4 else np.uint64))
            diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        else:
            same = a == b
            diff = np.abs(a.astype(np.int64) - b.astype(np.int64))
        if not same.all():
            bad = int((~same).sum())
            first = np.argwhere(~same)[0]
            raise AssertionError(
                f"{Path(model_path).name} output {k} ({native.program.outputs[k].name}): {bad} of {a.size} values "
                f"differ from TFLM (optimized={optimized}); max |diff| = {diff.max()} LSB; first at index "
                f"{tuple(int(i) for i in first)}: ours {a[tuple(first)]} vs TFLM {b[tuple(first)]}; "
                f"generated code in {native.library.parent}")
    return native


# --- one-op models via the TFLite converter ---------------------------------------------------------------


def _fn_key(build_fn: Callable[..., Any]) -> str:
    """A best-effort identity of a build function: its source and the values it closes over."""
    try:
        src = inspect.getsource(build_fn)
    except (OSError, TypeError):
        src = getattr(build_fn, "__qualname__", repr(build_fn))
    cells = [repr(c.cell_contents) for c in (getattr(build_fn, "__closure__", None) or ())]
    return src + "|" + "|".join(cells)


def single_op_tflite(build_fn: Callable[..., Any], input_shapes: Sequence[Sequence[int]], *, int8: bool = True,
                     rep_data: Iterable[Sequence[np.ndarray]] | Callable[[], Iterable[Sequence[np.ndarray]]]
                     | None = None, key: str | None = None, seed: int = 0,
                     input_range: tuple[float, float] = (-1.0, 1.0)) -> Path:
    """Convert a tiny Keras graph to .tflite (full int8 PTQ with int8 I/O unless int8=False); cached by key.

    build_fn(*inputs) -> output tensor(s), inputs being tf_keras Inputs of the given full shapes (batch first).
    """
    shapes = [tuple(int(d) for d in s) for s in input_shapes]
    ident = key if key is not None else _fn_key(build_fn)
    digest = hashlib.sha256(f"{ident}|{shapes}|{int8}|{seed}|{input_range}|v1".encode()).hexdigest()[:20]
    path = cache_root() / "tflite" / f"{digest}.tflite"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK:
        data = _convert(build_fn, shapes, int8, rep_data, seed, input_range)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def _convert(build_fn: Callable[..., Any], shapes: list[tuple[int, ...]], int8: bool, rep_data: Any, seed: int,
             input_range: tuple[float, float]) -> bytes:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    inputs = [keras.Input(shape=s[1:], batch_size=s[0]) for s in shapes]
    outputs = build_fn(*inputs)
    model = keras.Model(inputs, outputs)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        if rep_data is None:
            rng = np.random.default_rng(seed)
            lo, hi = input_range
            samples = [[rng.uniform(lo, hi, size=s).astype(np.float32) for s in shapes] for _ in range(32)]
        elif callable(rep_data):
            samples = None
        else:
            samples = [list(s) for s in rep_data]

        def representative() -> Iterable[list[np.ndarray]]:
            source = rep_data() if samples is None else samples
            for sample in source:
                yield [np.asarray(x, dtype=np.float32) for x in sample]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


# --- the same models on an emulated board ----------------------------------------------------------------


def build_qemu_firmware(model_path: Path, board: Any, out: Path, *, tx_buf: int = 2048, **render_options: Any) -> Path:
    """The device firmware for an emulated board without a PlatformIO run: render_aot (render_options go to it,
    e.g. optimized=False, small_layer_macs=0) and the harness, compiled with the aot build flags at the
    board's optimization level; `tx_buf` sizes the harness's transmit buffer (bytes of outputs per RESULT)."""
    from tinydeploy.flash.firmware import compile_firmware
    from tinydeploy.render.aot import AOT_BUILD_FLAGS, render_aot

    render_aot(model_path, board, out, **render_options)
    src = out / "src"
    sources = (sorted(src.glob("*.c")) + sorted((src / "aot" / "kernels").glob("*.c"))
               + sorted((src / "harness").glob("*.c")))
    flags = [f for f in AOT_BUILD_FLAGS if not f.startswith("-O")]
    return compile_firmware(board, sources, [src, src / "aot" / "kernels", src / "harness", out / "include"],
                            out / "build", name="fw", extra_flags=flags, defines={"TD_TX_BUF": tx_buf})


def qemu_outputs(board: Any, elf: Path, batches: Sequence[np.ndarray], *, invoke_timeout: float = 120.0
                 ) -> list[list[np.ndarray]]:
    """Run every sample of `batches` (one array per model input, batch first) through the firmware on QEMU over
    the serial link, one INVOKE each; per sample, its outputs flattened."""
    from tinydeploy.flash.qemu import QemuRunner
    from tinydeploy.link import DeviceLink

    results = []
    with QemuRunner(board, elf, timeout=300) as run, \
            DeviceLink.open(run.url, timeout=5, invoke_timeout=invoke_timeout) as link:
        link.hello()
        for n in range(len(batches[0])):
            result = link.infer([b[n:n + 1] for b in batches])
            results.append([np.asarray(o).reshape(-1) for o in result.outputs])
    return results


def assert_exact_on_qemu(board: Any, elf: Path, model_path: Path, batches: Sequence[np.ndarray], *,
                         invoke_timeout: float = 120.0) -> None:
    """Every output of every sample on the emulated board identical to TFLM's host interpreter."""
    expected = tflm_outputs(model_path, batches)
    for n, outputs in enumerate(qemu_outputs(board, elf, batches, invoke_timeout=invoke_timeout)):
        for k, (got, want) in enumerate(zip(outputs, expected)):
            want = np.asarray(want[n]).reshape(-1)
            assert np.array_equal(got, want), (
                f"output {k} of sample {n}: {int((got != want).sum())} values differ from TFLM, max |diff| "
                f"{float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max())}")

"""The generated code and every aot-core kernel compile warning-free for Cortex-M (compile only, no link).

arm-none-eabi-gcc with -Wall -Wextra -Werror for M0+ (no DSP, soft float), M4F (DSP, single-precision FPU)
and M55 (Helium), the reference and the optimized kernel selection both.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from aotutil import program_for
from aotutil_builder import OpSpec, TensorSpec, write_tflite
from tinydeploy.aot.codegen import kernels_dir
from tinydeploy.aot.lowering import TargetFeatures
from tinydeploy.paths import firmware_dir

CPUS = {
    "cortex-m0plus": (["-mcpu=cortex-m0plus", "-mthumb"], TargetFeatures(cpu="cortex-m0plus")),
    "cortex-m4": (["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
                  TargetFeatures(cpu="cortex-m4", dsp=True, fpu=True)),
    "cortex-m55": (["-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"],
                   TargetFeatures(cpu="cortex-m55", dsp=True, fpu=True, mve=True)),
}
CORE_KERNELS = ("conv2d", "depthwise_conv2d", "fully_connected", "quantize", "dequantize")

pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc missing")


def _all_core_ops_model() -> Path:
    """One model using every core op in int8 and float: conv, depthwise, FC, reshape, (de)quantize."""
    rng = np.random.default_rng(0)
    t = [
        TensorSpec((1, 8, 8, 3), "float32"),                                                    # 0 float in
        TensorSpec((1, 8, 8, 3), "int8", scale=0.02, zero_point=1),                             # 1
        TensorSpec((4, 3, 3, 3), "int8", data=rng.integers(-127, 128, (4, 3, 3, 3)), scale=[0.01] * 4),  # 2
        TensorSpec((4,), "int32", data=np.arange(4), scale=[2e-4] * 4),                           # 3
        TensorSpec((1, 4, 4, 4), "int8", scale=0.05, zero_point=-2),                            # 4
        TensorSpec((1, 3, 3, 8), "int8", data=rng.integers(-127, 128, (1, 3, 3, 8)), scale=[0.01] * 8, axis=3),  # 5
        TensorSpec((8,), "int32", data=np.arange(8), scale=[5e-4] * 8),                           # 6
        TensorSpec((1, 4, 4, 8), "int8", scale=0.05, zero_point=3),                             # 7
        TensorSpec((1, 128), "int8", scale=0.05, zero_point=3),                                 # 8
        TensorSpec((10, 128), "int8", data=rng.integers(-127, 128, (10, 128)), scale=0.01),     # 9
        TensorSpec((1, 10), "int8", scale=0.1, zero_point=0),                                   # 10
        TensorSpec((1, 10), "float32"),                                                         # 11
        TensorSpec((10, 10), "float32", data=rng.normal(size=(10, 10)).astype(np.float32)),     # 12
        TensorSpec((1, 10), "float32"),                                                         # 13
        TensorSpec((1, 10, 1, 1), "float32"),                                                   # 14
        TensorSpec((2, 1, 1, 1), "float32", data=np.ones((2, 1, 1, 1), np.float32)),            # 15
        TensorSpec((1, 10, 1, 2), "float32"),                                                   # 16
        TensorSpec((1, 1, 1, 2), "float32", data=np.ones((1, 1, 1, 2), np.float32)),            # 17
        TensorSpec((1, 10, 1, 2), "float32"),                                                   # 18
    ]
    ops = [
        OpSpec("QUANTIZE", [0], [1]),
        OpSpec("CONV_2D", [1, 2, 3], [4], {"padding": "SAME", "stride_w": 2, "stride_h": 2,
                                            "fused_activation_function": "RELU"}),
        OpSpec("DEPTHWISE_CONV_2D", [4, 5, 6], [7], {"padding": "SAME", "stride_w": 1, "stride_h": 1,
                                                      "depth_multiplier": 2}),
        OpSpec("RESHAPE", [7], [8], {"new_shape": [1, 128]}),
        OpSpec("FULLY_CONNECTED", [8, 9], [10]),
        OpSpec("DEQUANTIZE", [10], [11]),
        OpSpec("FULLY_CONNECTED", [11, 12], [13], {"fused_activation_function": "RELU6"}),
        OpSpec("RESHAPE", [13], [14], {"new_shape": [1, 10, 1, 1]}),
        OpSpec("CONV_2D", [14, 15], [16], {"padding": "VALID", "stride_w": 1, "stride_h": 1}),
        OpSpec("DEPTHWISE_CONV_2D", [16, 17], [18], {"padding": "VALID", "stride_w": 1, "stride_h": 1,
                                                      "depth_multiplier": 1}),
    ]
    return write_tflite(t, ops, [0], [18])


def _compile(flags: list[str], source: Path, includes: list[Path], out: Path) -> None:
    cmd = ["arm-none-eabi-gcc", *flags, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off",
           *[f"-I{d}" for d in includes], "-c", str(source), "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"


@pytest.mark.parametrize("cpu", sorted(CPUS))
@pytest.mark.parametrize("optimized", [False, True])
def test_generated_model_compiles_for_cortex_m(cpu: str, optimized: bool, tmp_path: Path) -> None:
    flags, target = CPUS[cpu]
    target = TargetFeatures(cpu=target.cpu, dsp=target.dsp, fpu=target.fpu, mve=target.mve, optimized=optimized)
    program = program_for(_all_core_ops_model(), target=target)
    kernels = {k.replace("_opt", "").replace("_dsp", "").replace("_mve", "") for k in program.kernels}
    assert {"conv2d_s8", "quantize", "dequantize", "conv2d_f32"} <= kernels
    # optimized builds run the two small FC heads on the convolution's kernel (the GEMM; conv2d_s8_mve on Helium)
    assert "fully_connected_s8" in kernels or optimized
    program.write(tmp_path)
    includes = [tmp_path, *program.include_dirs]
    for source in [tmp_path / "model.c", *program.kernel_sources]:
        _compile(flags, source, includes, tmp_path / f"{source.stem}.o")


@pytest.mark.parametrize("cpu", sorted(CPUS))
def test_every_core_kernel_compiles_for_cortex_m(cpu: str, tmp_path: Path) -> None:
    flags, _ = CPUS[cpu]
    sources = [p for p in sorted(kernels_dir().glob("*.c")) if p.name.startswith(CORE_KERNELS)]
    assert len(sources) >= 8
    for source in sources:
        _compile(flags, source, [kernels_dir(), firmware_dir() / "include"], tmp_path / f"{source.stem}.o")

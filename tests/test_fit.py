"""The flash/RAM fit check: estimated from the model before a build (a model that cannot fit is refused
before anything compiles), confirmed with the linker's figures after it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from tinydeploy import pipeline
from tinydeploy.boards import get_board
from tinydeploy.errors import UserError
from tinydeploy.model.graph import load_model
from tinydeploy.plan.fit import estimate_fit, human_bytes

sys.path.insert(0, str(Path(__file__).parent))
from aotutil_builder import OpSpec, TensorSpec, write_tflite  # noqa: E402


def fc_int8(n_in: int, n_out: int) -> Path:
    weights = np.random.default_rng(n_in).integers(-127, 127, (n_out, n_in), dtype=np.int8)
    return write_tflite([TensorSpec((1, n_in), "int8", scale=0.02, name="x"),
                         TensorSpec((n_out, n_in), "int8", data=weights, scale=0.01, name="w"),
                         TensorSpec((n_out,), "int32", data=np.zeros(n_out, np.int32), scale=0.0002, name="b"),
                         TensorSpec((1, n_out), "int8", scale=0.05, zero_point=-10, name="y")],
                        [OpSpec("FULLY_CONNECTED", [0, 1, 2], [3])], [0], [3])


def test_human_bytes():
    assert [human_bytes(n) for n in (812, 1024, 538 * 1024 + 300, 1 << 20, 3 << 19, 4 << 20)] == \
        ["812 B", "1 KB", "538 KB", "1 MB", "1.5 MB", "4 MB"]


def test_a_small_model_fits_the_nano33():
    fit = estimate_fit(load_model(fc_int8(64, 10)), get_board("nano33"), "tflm", arena_bytes=2048)
    assert fit.fits and fit.parts["weights"] == 640 + 40 and "framework_flash" in fit.parts  # Arduino core counted
    assert fit.describe().startswith("needs ")
    assert "KB flash, nano33 has 1 MB: fits" in fit.describe() and "RAM, nano33 has 256 KB: fits" in fit.describe()


def test_weights_larger_than_the_flash_are_refused_before_the_build(monkeypatch):
    def no_build(*args, **kwargs):
        raise AssertionError("the build must not start")

    monkeypatch.setattr(pipeline, "build_project", no_build)
    model = fc_int8(1024, 1100)  # 1.1 MB of int8 weights
    with pytest.raises(UserError) as err:
        pipeline.build_firmware(model, get_board("nano33"), "aot")
    text = str(err.value)
    assert "MB flash, nano33 has 1 MB: does not fit" in text and "weights 1.1 MB" in text
    assert "deploy convert" in (err.value.hint or "") and "\n" not in err.value.message


def test_activations_larger_than_the_ram_are_refused_before_the_build(monkeypatch):
    monkeypatch.setattr(pipeline, "build_project", lambda *a, **k: pytest.fail("the build must not start"))
    big = write_tflite([TensorSpec((1, 260_000), "int8", scale=0.02, name="x"),  # no weights, big activations
                        TensorSpec((1, 260_000), "int8", scale=0.02, name="y")],
                       [OpSpec("ADD", [0, 0], [1])], [0], [1])
    with pytest.raises(UserError, match=r"RAM, nano33 has 256 KB: does not fit .*tensor arena \d+ KB"):
        pipeline.build_firmware(big, get_board("nano33"), "aot")


def test_the_built_firmware_confirms_the_estimate():
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("no arm-none-eabi-gcc (Debian: gcc-arm-none-eabi)")
    fw = pipeline.build_firmware(fc_int8(256, 16), get_board("qemu-m4"), "aot")
    fit = fw.fit
    assert fit.measured and fit.flash_needed == fw.build.flash_bytes and fit.ram_needed == fw.build.ram_bytes
    assert fit.parts["estimated_flash"] >= fw.build.flash_bytes  # the estimate errs on the large side
    assert fit.parts["estimated_ram"] >= fw.build.ram_bytes
    assert "qemu-m4 has 4 MB: fits" in fw.describe() and "(built)" in fw.describe()
    assert pipeline.build_firmware(fc_int8(256, 16), get_board("native"), "aot").fit is None  # no limits

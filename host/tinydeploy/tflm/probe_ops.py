"""Developer tool: find which op versions the pinned TFLite Micro interpreter runs, from real models.

    python -m tinydeploy.tflm.probe_ops [--json OUT]

TFLM's op resolver looks kernels up by builtin code only and never checks an op's version; what a version
adds (int16 activations, per-channel weights, broadcasting, ...) is accepted or rejected by the kernel's
Prepare/Eval.  So the only way to learn which versions work is to build models that the converter stamps with
those versions and run them in TFLM's own interpreter (the PyPI `tflite-micro` package).  This script does that
for a set of tiny Keras models in float32, int8 and int16x8 and prints, per op, the highest version that
allocated and invoked successfully; `tinydeploy.tflm.ops.TFLM_OPS` records the result.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

import numpy as np

from tinydeploy.model.graph import parse_model


def _models(keras: Any) -> dict[str, Callable[[], Any]]:
    L = keras.layers

    def convnet() -> Any:
        x = inp = keras.Input((8, 8, 3), batch_size=1)
        x = L.Conv2D(4, 3, padding="same", activation="relu")(x)
        x = L.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
        x = L.MaxPooling2D(2)(x)
        x = L.AveragePooling2D(2)(x)
        x = L.Flatten()(x)
        x = L.Dense(5)(x)
        x = L.Softmax()(x)
        return keras.Model(inp, x)

    def elementwise() -> Any:
        a = keras.Input((4, 4, 2), batch_size=1)
        b = keras.Input((4, 4, 2), batch_size=1)
        s = L.Add()([a, b])
        m = L.Multiply()([a, b])
        d = L.Subtract()([s, m])
        c = L.Concatenate()([d, L.Activation("sigmoid")(a), L.Activation("tanh")(b)])
        c = L.LeakyReLU(0.1)(c)
        c = L.ZeroPadding2D(1)(c)
        g = L.GlobalAveragePooling2D()(c)
        return keras.Model([a, b], g)

    def hard_swish() -> Any:  # its own model: the converter has no int16x8 HARD_SWISH
        x = inp = keras.Input((4, 4, 2), batch_size=1)
        return keras.Model(inp, L.Activation("hard_swish")(x))

    def transpose_conv() -> Any:
        x = inp = keras.Input((4, 4, 2), batch_size=1)
        x = L.Conv2DTranspose(2, 3, strides=2, padding="same")(x)
        x = L.Maximum()([x, L.ReLU()(x)])
        x = L.Reshape((-1,))(x)
        return keras.Model(inp, x)

    def upsample() -> Any:  # Keras lowers UpSampling2D to TILE, which TFLM lacks
        x = inp = keras.Input((4, 4, 2), batch_size=1)
        return keras.Model(inp, L.UpSampling2D(2)(x))

    return {"convnet": convnet, "elementwise": elementwise, "hard_swish": hard_swish,
            "transpose_conv": transpose_conv, "upsample": upsample}


def _run_tflm(raw: bytes) -> str:
    from tflite_micro.python.tflite_micro import runtime

    try:
        interp = runtime.Interpreter.from_bytes(raw, arena_size=1 << 20)
        for i, t in enumerate(parse_model(raw).input_tensors):
            interp.set_input(np.zeros(t.shape, dtype=t.numpy_dtype), i)
        interp.invoke()
    except Exception as err:  # the binding raises RuntimeError/ValueError for any TFLM failure
        return str(err).splitlines()[0] if str(err) else type(err).__name__
    return ""


def probe() -> dict[str, dict[str, Any]]:
    from tinydeploy.convert.tfenv import import_keras
    from tinydeploy.convert.tflite import keras_to_tflite

    keras = import_keras()
    results: dict[str, dict[str, Any]] = {}
    rng = np.random.default_rng(0)
    for name, build in _models(keras).items():
        model = build()
        calib = [rng.standard_normal((8, *inp.shape[1:])).astype(np.float32) for inp in model.inputs]
        for mode in ("float32", "int8", "int16x8"):
            try:
                raw = keras_to_tflite(model, mode, calibration=calib, what=name)
            except Exception as err:  # a mode the converter cannot do for this model: nothing learned
                print(f"{name}/{mode}: conversion failed: {err}", file=sys.stderr)
                continue
            error = _run_tflm(raw)
            for op in parse_model(raw).operators:
                entry = results.setdefault(op.opcode, {"ok": [], "failed": {}})
                if error:
                    entry["failed"][str(op.version)] = f"{name}/{mode}: {error}"
                elif op.version not in entry["ok"]:
                    entry["ok"].append(op.version)
            print(f"{name}/{mode}: {'OK' if not error else error}", file=sys.stderr)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the raw results here")
    args = parser.parse_args(argv)
    results = probe()
    for op in sorted(results):
        ok = sorted(results[op]["ok"])
        print(f"{op:28s} ok versions {ok}  max {max(ok) if ok else '-'}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

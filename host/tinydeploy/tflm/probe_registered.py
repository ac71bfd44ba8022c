"""Developer tool: which builtin and custom ops TFLM's own interpreter (PyPI `tflite-micro`) registers.

    python -m tinydeploy.tflm.probe_registered            # rewrites tinydeploy/tflm/registered_ops.json

For every builtin code in TFLM's schema, a two-op model is built: the probed op, then a sentinel op nobody
registers (a custom op).  TFLM looks every node's kernel up before it initializes or prepares any of them,
and stops at the first op it cannot find, naming its op code: the probed op's when it is not registered,
otherwise the sentinel's.  Custom ops are probed the same way with an unregistered builtin as the sentinel.
No kernel ever runs on the (meaningless) probe tensors, so no probe can crash the interpreter.  The result is
the checked-in data file `registered_ops.json` that `tinydeploy.tflm.ops` reads; tests/test_tflm_registered.py
reruns the probe and checks the file matches the installed package.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

DATA_FILE = Path(__file__).with_name("registered_ops.json")
SENTINEL = "TINYDEPLOY_UNREGISTERED_SENTINEL"
# Custom ops TFLM ships (by custom code); probed the same way as builtins.
CUSTOM_CANDIDATES = ("TFLite_Detection_PostProcess", "CIRCULAR_BUFFER")


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    return schema


def _builtin_codes() -> dict[str, int]:
    B = _schema().BuiltinOperator
    return {name: value for name, value in vars(B).items() if name.isupper() and isinstance(value, int)}


def _two_op_model(probed: tuple[int, str | None], sentinel: tuple[int, str | None]) -> bytes:
    """Model: probed op (builtin code, custom code) -> sentinel op, on float32 [1] tensors."""
    import flatbuffers

    s = _schema()

    def opcode(builtin: int, custom_code: str | None) -> object:
        oc = s.OperatorCodeT()
        oc.builtinCode = builtin
        oc.deprecatedBuiltinCode = min(builtin, 127)
        oc.customCode = custom_code
        oc.version = 1
        return oc

    def tensor(i: int) -> object:
        t = s.TensorT()
        t.shape, t.type, t.buffer, t.name = [1], s.TensorType.FLOAT32, 0, f"t{i}"
        return t

    def operator(index: int, inp: int, out: int) -> object:
        o = s.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = index, [inp], [out]
        return o

    sg = s.SubGraphT()
    sg.tensors = [tensor(i) for i in range(3)]
    sg.inputs, sg.outputs = [0], [2]
    sg.operators = [operator(0, 0, 1), operator(1, 1, 2)]
    if probed[0] == s.BuiltinOperator.VAR_HANDLE:  # the Python wrapper reads its options before TFLM runs
        options = s.VarHandleOptionsT()
        options.sharedName = "probe"
        sg.operators[0].builtinOptionsType, sg.operators[0].builtinOptions = s.BuiltinOptions.VarHandleOptions, options
    model = s.ModelT()
    model.version = 3
    model.operatorCodes = [opcode(*probed), opcode(*sentinel)]
    model.subgraphs = [sg]
    model.buffers = [s.BufferT()]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _lookup_log(raw: bytes) -> str:
    """What TFLM printed while building an interpreter for `raw` (its lookup errors go to the C stderr)."""
    from tflite_micro.python.tflite_micro import runtime

    with tempfile.TemporaryFile() as log:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            runtime.Interpreter.from_bytes(raw, arena_size=1 << 16)
        except Exception as err:  # the expected outcome: a lookup fails (on the probe or on the sentinel)
            os.write(2, f"\n{err}\n".encode())
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        log.seek(0)
        return log.read().decode("utf-8", "replace")


def _failed_on(raw: bytes) -> str:
    """The op code name TFLM's kernel lookup stopped at."""
    log = _lookup_log(raw)
    marker = "Failed to get registration from op code "
    if marker not in log:
        raise RuntimeError(f"probe: unexpected TFLM output: {log.strip()[:300]}")
    return log.split(marker, 1)[1].split()[0]


def probe() -> dict[str, object]:
    from importlib.metadata import version

    codes = _builtin_codes()
    custom = codes["CUSTOM"]
    builtins = sorted(name for name, code in codes.items()
                      if name not in ("CUSTOM", "DELEGATE", "PLACEHOLDER_FOR_GREATER_OP_CODES")
                      and _failed_on(_two_op_model((code, None), (custom, SENTINEL))) == "CUSTOM")
    missing = sorted(set(codes) - set(builtins) - {"CUSTOM", "DELEGATE", "PLACEHOLDER_FOR_GREATER_OP_CODES"})
    sentinel = missing[0]  # any builtin TFLM lacks
    customs = sorted(c for c in CUSTOM_CANDIDATES
                     if _failed_on(_two_op_model((custom, c), (codes[sentinel], None))) == sentinel)
    return {"tflite_micro_version": version("tflite-micro"), "builtin": builtins, "custom": customs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA_FILE, help=f"where to write (default {DATA_FILE.name})")
    args = parser.parse_args(argv)
    result = probe()
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"{len(result['builtin'])} builtin and {len(result['custom'])} custom ops -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

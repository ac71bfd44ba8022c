"""UNIDIRECTIONAL_SEQUENCE_LSTM on the aot runtime, bit-exact with TFLite Micro's host interpreter.

The models are Keras LSTMs as a user writes them (tf_keras, which the converter keeps as the fused LSTM
op): a keyword-spotting shape (49 frames x 10 features -> LSTM(16) -> Dense(4, softmax), the last state
only) and two stacked LSTMs whose whole sequence is the output (return_sequences=True); each converted
float32 and full-int8 (int8 I/O, int16 cell state) and run natively on the `native` board's generated C
against TFLM, one sample at a time as verify runs them (TFLM resets the state tensors after each sample; the aot code
starts every invoke from a zero state).  A GRU (which the converter unrolls into plain ops) is checked too.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, random_inputs, single_op_tflite
from tinydeploy.model.graph import load_model

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _keras():
    import tf_keras

    return tf_keras


def kws_lstm(x):
    k = _keras()
    return k.layers.Dense(4, activation="softmax")(k.layers.LSTM(16)(x))


def stacked_sequence_lstm(x):
    """Two stacked LSTMs, the whole sequence out (return_sequences=True on both: no head hides a 1-LSB slip)."""
    k = _keras()
    return k.layers.LSTM(8, return_sequences=True)(k.layers.LSTM(16, return_sequences=True)(x))


def kws_gru(x):
    k = _keras()
    return k.layers.Dense(4, activation="softmax")(k.layers.GRU(8, unroll=True)(x))


def _rep_data(shape: tuple[int, ...]) -> list[list[np.ndarray]]:
    """Calibration like real features: smooth-ish sequences in about [-2, 2]."""
    rng = np.random.default_rng(7)
    walk = np.cumsum(rng.normal(0, 0.4, size=(48, *shape)), axis=2)
    return [[np.clip(s, -2.5, 2.5).astype(np.float32)] for s in walk]


MODELS = {
    "kws": (kws_lstm, (1, 49, 10)),
    "stacked": (stacked_sequence_lstm, (1, 12, 10)),
}


def _model(name: str, int8: bool, build=None, shape=None) -> Path:
    build, shape = (build, shape) if build else MODELS[name]
    return single_op_tflite(build, [shape], int8=int8, rep_data=_rep_data(shape), key=f"lstm-{name}-v1")


@pytest.mark.parametrize("int8", [False, True], ids=["float32", "int8"])
@pytest.mark.parametrize("name", list(MODELS))
def test_lstm_model_exact_with_tflm(name: str, int8: bool) -> None:
    path = _model(name, int8)
    model = load_model(path)
    lstms = [op for op in model.operators if op.opcode == "UNIDIRECTIONAL_SEQUENCE_LSTM"]
    assert len(lstms) == (2 if name == "stacked" else 1), [op.opcode for op in model.operators]
    if int8:
        assert model.tensors[lstms[0].inputs[19]].dtype == "int16"  # TFLM's integer LSTM: int16 cell state
    # many samples one after the other (a state leaking from one invoke into the next would show): a wrong
    # requantization constant shows as a 1-LSB slip in about one int8 value in 10^4
    assert_bitexact_with_tflm(path, random_inputs(path, 200 if int8 else 40, seed=3))


def test_lstm_int8_sequence_output_covers_the_range() -> None:
    """The int8 stacked model's raw sequence output spans many codes (the exactness test means something)."""
    path = _model("stacked", True)
    native = assert_bitexact_with_tflm(path, random_inputs(path, 100, seed=5))
    out = native.run_batch(random_inputs(path, 100, seed=5))[0]
    assert len(np.unique(out)) > 40


def test_gru_unrolled_runs_exact() -> None:
    """A Keras GRU converts to plain ops (FULLY_CONNECTED, SPLIT, SPLIT_V, LOGISTIC, TANH, MUL, ADD, SUB,
    UNPACK); int8 here (float32 runs exact too, on the same ops)."""
    path = _model("gru", True, kws_gru, (1, 6, 6))
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in {op.opcode for op in load_model(path).operators}
    assert_bitexact_with_tflm(path, random_inputs(path, 100, seed=1))


def test_int8_lstms_share_one_generated_sigmoid_table() -> None:
    """The sigmoid table the integer LSTM interpolates is generated (tinydeploy.aot.sigmoid_table) into the
    model code once, however many layers read it; the kernels hold no copy.  Exactness of the table itself
    is what test_lstm_model_exact_with_tflm[int8] and the exhaustive int16 LOGISTIC/TANH tests
    (test_aot_ops_int16_nonlinear.py) show."""
    from aotutil import program_for
    from tinydeploy.paths import firmware_dir

    model_c = program_for(_model("stacked", True)).files["model.c"]
    assert model_c.count("td_sigmoid_q16[") == 1  # two LSTM layers, one table
    for name in ("lstm_s8.c", "logistic_s16.c", "tanh_s16.c"):
        assert "33451" not in (firmware_dir() / "aot" / "kernels" / name).read_text()


def test_lstm_macs_count_every_gate_over_every_step() -> None:
    """The KWS LSTM (16 cells over 49 steps of 10 features): 4 gates x 16 x (10 inputs + 16 recurrent) per step."""
    from tinydeploy.macs import op_macs

    model = load_model(_model("kws", False))
    lstm = next(op for op in model.operators if op.opcode == "UNIDIRECTIONAL_SEQUENCE_LSTM")
    assert op_macs(model, lstm) == 49 * 4 * 16 * (10 + 16)

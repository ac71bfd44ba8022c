"""Example hardware-in-the-loop tests: the digits model on a board.

    pytest --tinydeploy-board qemu-m4 examples/tests/
    pytest --tinydeploy-board nucleo-f446re examples/tests/          # a real board on USB
    pytest --tinydeploy-board qemu-m4 --lg-env examples/labgrid/env.yaml -n 2 examples/tests/

Each test gets the model already built, flashed and connected (`deployed_model`); the firmware is
rebuilt only when the model file changes.
"""

import numpy as np
import pytest

N_ACCURACY = 60  # test-split digits streamed to the board; the full split is 359
MIN_ACCURACY = 0.85
LATENCY_BUDGET = {"instructions": 2_000_000, "cycles": 20_000_000, "ns": 50_000_000}


def test_board_runs_the_model_under_test(tinydeploy_board, deployed_model):
    info = tinydeploy_board.info
    assert info.model_sha256 == deployed_model.firmware.model_sha256
    assert info.board == deployed_model.board.id


def test_accuracy_on_test_split(deployed_model, digits_test_split):
    x_test, y_test = digits_test_split
    report = deployed_model.verify(x_test[:N_ACCURACY], y_test[:N_ACCURACY], min_accuracy=MIN_ACCURACY)
    assert report.n_inputs == N_ACCURACY
    assert report.passed, "; ".join(c.describe() for c in report.failed_checks)


def test_bit_exact_with_tflm(deployed_model):
    rng = np.random.default_rng(7)
    noise = rng.uniform(0.0, 1.0, size=(8, 8, 8, 1)).astype(np.float32)  # inputs no training set holds
    report = deployed_model.verify(noise, min_exact_match_rate=1.0)
    assert report.fidelity["tflm"]["exact_match_rate"] == 1.0


def test_latency_budget(deployed_model, digits_test_split):
    x_test, _ = digits_test_split
    result = deployed_model.infer(x_test[0])
    assert result.output.shape[-1] == 10
    assert result.latency <= LATENCY_BUDGET[result.unit], f"{result.latency} {result.unit}"


def test_same_answer_every_time(deployed_model, digits_test_split):
    x_test, _ = digits_test_split
    first = deployed_model.infer(x_test[1])
    again = deployed_model.infer(x_test[1])
    np.testing.assert_array_equal(first.output, again.output)
    # Same work, same time: within 1 % (QEMU counts instructions, up to one tick of its timer apart).
    assert abs(first.latency - again.latency) <= 0.01 * first.latency


@pytest.mark.boards("qemu-m4", "qemu-m33")
def test_prediction_matches_across_boards(deployed_model, digits_test_split):
    x_test, y_test = digits_test_split
    predictions = [int(np.argmax(deployed_model.infer(x).output)) for x in x_test[:5]]
    assert sum(p == y for p, y in zip(predictions, y_test[:5])) >= 4

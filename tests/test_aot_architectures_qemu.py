"""The architectures' building blocks in one int8 model on an emulated Cortex-M4, exact with TFLite Micro.

One Keras 3 model chains an inception block (concat, max-pool), a dilated depthwise conv with hard_swish, a
MobileNetV3 squeeze-excite (global average pool, hard_sigmoid gate, broadcast MUL), a global max pool, a
Dense head with LayerNormalization, and three outputs: logits, LOG_SOFTMAX and an L2-normalized embedding.
Converted by tinydeploy's converter to int8, rendered for qemu-m4 (optimized kernels), run under QEMU over
the serial link; every output of every sample must equal TFLM's host interpreter's (~10 s).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aotutil import assert_exact_on_qemu, build_qemu_firmware, random_inputs
from test_aot_architectures import convert_cached
from tinydeploy.boards import get_board

pytestmark = [pytest.mark.qemu, pytest.mark.slow, pytest.mark.filterwarnings("ignore::UserWarning")]


def mixed_blocks(keras: Any) -> Any:
    import tensorflow as tf

    layers = keras.layers
    inp = keras.Input((16, 16, 8))
    a = layers.Conv2D(8, 1, activation="relu")(inp)
    b = layers.Conv2D(8, 3, padding="same", activation="relu")(layers.Conv2D(4, 1, activation="relu")(inp))
    c = layers.Conv2D(4, 1, activation="relu")(layers.MaxPooling2D(3, strides=1, padding="same")(inp))
    x = layers.Concatenate()([a, b, c])
    x = layers.DepthwiseConv2D(3, dilation_rate=2, padding="same")(x)
    x = layers.Activation("hard_swish")(layers.BatchNormalization()(x))
    gate = layers.Dense(20, activation="hard_sigmoid")(layers.Dense(8, activation="relu")(
        layers.GlobalAveragePooling2D(keepdims=True)(x)))
    x = layers.Multiply()([x, gate])
    x = layers.Conv2D(16, 1)(x)
    x = layers.LayerNormalization()(layers.Dense(16)(layers.GlobalMaxPooling2D()(x)))
    logits = layers.Dense(10)(x)
    log_probs = layers.Lambda(lambda t: tf.nn.log_softmax(t, axis=-1))(logits)
    embedding = layers.Lambda(lambda t: tf.math.l2_normalize(t, axis=-1))(x)
    return keras.Model(inp, [logits, log_probs, embedding])


def test_mixed_architecture_blocks_exact_on_qemu_m4(tmp_path: Path) -> None:
    from tinydeploy.model.graph import load_model

    path = convert_cached("mixed_blocks", mixed_blocks, "int8")
    ops = {op.opcode for op in load_model(path).operators}
    assert {"CONCATENATION", "MAX_POOL_2D", "DEPTHWISE_CONV_2D", "HARD_SWISH", "MUL", "REDUCE_MAX", "RSQRT",
            "LOG_SOFTMAX", "L2_NORMALIZATION"} <= ops, ops
    board = get_board("qemu-m4")
    inputs = random_inputs(path, 3, seed=7)[0]
    elf = build_qemu_firmware(path, board, tmp_path / "fw", tx_buf=4096, optimized=True)
    assert_exact_on_qemu(board, elf, path, [inputs], invoke_timeout=60)

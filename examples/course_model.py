"""The course workflow's first step, as a user writes it: a Sequential Keras model on scikit-learn's digits.

    .venv/bin/python examples/course_model.py course/

writes into the given directory: digits.keras (Keras 3 file), saved/ (tf.saved_model.save), train.npz (x, y
for QAT), rep.npy (calibration inputs), x_test.npy / y_test.npy (held-out inputs and labels).  See README.md,
"Course workflow".
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def main(out: Path) -> None:
    import tensorflow as tf
    from sklearn.datasets import load_digits

    keras = tf.keras
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]  # (1797, 8, 8, 1) in [0, 1]
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    x_train, y_train, x_test, y_test = x[:1400], y[:1400], x[1400:], y[1400:]

    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=15, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)

    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "digits.keras")
    tf.saved_model.save(model, str(out / "saved"))
    np.savez(out / "train.npz", x=x_train, y=y_train)
    np.save(out / "rep.npy", x_train[:200])
    np.save(out / "x_test.npy", x_test)
    np.save(out / "y_test.npy", y_test)
    print(f"float accuracy on {len(x_test)} held-out digits: {accuracy:.3f}; files in {out}/")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "course"))

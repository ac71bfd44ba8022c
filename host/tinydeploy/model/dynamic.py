"""Dynamic dimensions in a model's inputs: a dynamic batch is run as batch 1, anything else is refused.

The converter records unknown Keras dimensions as -1 in a tensor's `shape_signature` and 1 in its `shape`;
TFLite Micro ignores the signature and runs the recorded shapes.  A -1 batch (dimension 0, as in the official
MLPerf Tiny models) is therefore harmless: the model runs at batch 1, and every recorded shape, including what
a SHAPE op returns, is the batch-1 shape.  A dynamic sequence length or image size is not: the recorded 1 is
almost never the size the user means.
"""

from __future__ import annotations

from tinydeploy.model.graph import Model, Tensor

FIX = "build the Keras model with fixed sizes (keras.Input(shape) with no None), then re-convert"


def dynamic_batch(t: Tensor) -> bool:
    """The tensor's signature has -1 in dimension 0 only (a dynamic batch, run as 1)."""
    sig = t.shape_signature or ()
    return bool(sig) and sig[0] == -1 and all(d >= 0 for d in sig[1:])


def dynamic_dims_error(model: Model) -> str | None:
    """One line naming the first model input with a dynamic dimension other than the batch; None if none."""
    for t in model.input_tensors:
        sig = list(t.shape_signature or ())
        axes = [axis for axis, d in enumerate(sig) if d < 0 and axis > 0]
        if axes or (sig and sig[0] < 0 and t.shape[0] != 1):
            return (f"input tensor '{t.name}' has dynamic dimension(s) {axes or [0]} (shape_signature {sig}); "
                    f"only a dynamic batch (dimension 0, run as 1) is supported")
    return None

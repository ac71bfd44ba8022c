"""Keras 3 models rebuilt in legacy Keras (tf_keras), for what only tf_keras can do under TF 2.21.

Two things need tf_keras: tensorflow-model-optimization (QAT), and converting recurrent layers: TF 2.21's
converter crashes (SIGSEGV) on Keras 3 LSTM/GRU in full int8, while a tf_keras LSTM converts to the fused
UNIDIRECTIONAL_SEQUENCE_LSTM builtin that micro runtimes run.  tf_keras only works when TF_USE_LEGACY_KERAS=1
is set before TensorFlow is imported, so the callers run in a child process (tinydeploy.convert.worker,
tinydeploy.convert.qat).

The rebuild follows the model's own graph from its outputs back to its inputs (each tensor's Keras history),
not `layer._inbound_nodes`: a reloaded Keras 3 Sequential model has several inbound nodes per layer (the
Sequential's own graph and the functional one it builds), which are not shared layers.  A layer really used
twice in the graph maps to one tf_keras layer called twice, so shared weights stay shared.
"""

from __future__ import annotations

import inspect as pyinspect
from pathlib import Path
from typing import Any

from tinydeploy.errors import UserError

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


def _clean_config(tfk_cls: type, config: dict[str, Any]) -> dict[str, Any]:
    """Keep the config keys the tf_keras layer accepts; Keras 3 dtype policies become plain dtype names."""
    accepted = set(pyinspect.signature(tfk_cls.__init__).parameters) | {"name", "trainable", "dtype"}
    result = {}
    for key, value in config.items():
        if key not in accepted or key.endswith("initializer"):
            continue  # initializers do not matter: the weights are copied over
        if key == "dtype" and isinstance(value, dict):
            value = value.get("config", {}).get("name", "float32")
        if isinstance(value, dict) and "class_name" in value:  # initializers, regularizers, constraints
            value = {"class_name": value["class_name"], "config": value.get("config", {})}
        result[key] = value
    return result


def _new_layer(layer: Any, tfk: Any, purpose: str, unroll: tuple[str, ...] = ()) -> Any:
    cls_name = type(layer).__name__
    tfk_cls = getattr(tfk.layers, cls_name, None)
    if tfk_cls is None:
        raise UserError(f"{purpose} cannot rebuild layer '{layer.name}' ({cls_name}): tf_keras has no such layer",
                        hint="use models made of standard Keras layers")
    try:
        config = _clean_config(tfk_cls, layer.get_config())
        if cls_name in unroll:
            config["unroll"] = True
        return tfk_cls.from_config(config)
    except Exception as err:
        text = " ".join(str(err).split())[:300]
        raise UserError(f"{purpose} cannot rebuild layer '{layer.name}' ({cls_name}) in tf_keras: {text}") from None


class _Rebuilder:
    """Walks a Keras 3 graph from its outputs and calls the tf_keras twin of each layer on the new tensors."""

    def __init__(self, tfk: Any, purpose: str, unroll: tuple[str, ...] = ()) -> None:
        self.tfk = tfk
        self.purpose = purpose
        self.unroll = unroll
        self.tensors: dict[int, Any] = {}  # id(Keras 3 tensor) -> tf_keras tensor
        self.layers: dict[int, tuple[Any, Any]] = {}  # id(Keras 3 layer) -> (old, tf_keras layer)

    def tensor(self, old: Any) -> Any:
        if id(old) in self.tensors:
            return self.tensors[id(old)]
        history = getattr(old, "_keras_history", None)
        if history is None:
            raise UserError(f"{self.purpose}: tensor '{getattr(old, 'name', old)}' is not produced by a layer "
                            "of the model", hint="use models made of standard Keras layers")
        operation, node_index, _ = history
        node = operation._inbound_nodes[node_index]
        new_layer = self._layer(operation)
        arg = node.arguments.args[0] if node.arguments.args else node.input_tensors
        if isinstance(arg, (list, tuple)):
            out = new_layer([self.tensor(t) for t in arg])
        else:
            out = new_layer(self.tensor(arg))
        outs = out if isinstance(out, (list, tuple)) else [out]
        for old_out, new_out in zip(node.output_tensors, outs):
            self.tensors[id(old_out)] = new_out
        return self.tensors[id(old)]

    def _layer(self, layer: Any) -> Any:
        if id(layer) not in self.layers:
            self.layers[id(layer)] = (layer, _new_layer(layer, self.tfk, self.purpose, self.unroll))
        return self.layers[id(layer)][1]

    def copy_weights(self) -> None:
        for old, new in self.layers.values():
            new.set_weights(old.get_weights())


def keras3_to_tf_keras(model: Any, tfk: Any, *, batch_size: int | None, purpose: str = "QAT",
                       unroll: tuple[str, ...] = ()) -> Any:
    """Rebuild a Keras 3 functional or Sequential model in tf_keras with the same layers and weights
    (recurrent layers whose class is named in `unroll` get unroll=True)."""
    rebuilder = _Rebuilder(tfk, purpose, unroll)
    new_inputs = []
    for t in model.inputs:
        new = tfk.Input(shape=tuple(t.shape[1:]), batch_size=batch_size, name=t.name.split(":")[0])
        rebuilder.tensors[id(t)] = new
        new_inputs.append(new)
    outputs = [rebuilder.tensor(t) for t in model.outputs]
    rebuilder.copy_weights()
    return tfk.Model(new_inputs, outputs if len(outputs) > 1 else outputs[0], name=model.name)


def load_as_tf_keras(path: Path, tfk: Any, *, batch_size: int | None, purpose: str,
                     unroll: tuple[str, ...] = ()) -> Any:
    """A Keras model file as a tf_keras model: a tf_keras .h5 directly, anything Keras 3 saved rebuilt."""
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if path.is_dir() or path.suffix.lower() not in KERAS_SUFFIXES:
        raise UserError(f"{path}: {purpose} needs a Keras model file (.keras or .h5)")
    if path.suffix.lower() in (".h5", ".hdf5") and batch_size is None and not unroll:
        try:
            return tfk.models.load_model(str(path), compile=False)
        except Exception:
            pass  # saved by Keras 3: rebuild below
    import keras  # Keras 3, importable beside tf_keras

    try:
        model3 = keras.models.load_model(str(path), compile=False)
    except Exception as err:
        raise UserError(f"{path}: cannot load the Keras model ({' '.join(str(err).split())[:200]})") from None
    return keras3_to_tf_keras(model3, tfk, batch_size=batch_size, purpose=purpose, unroll=unroll)


RECURRENT_LAYERS = ("LSTM", "GRU", "SimpleRNN", "RNN", "Bidirectional", "ConvLSTM1D", "ConvLSTM2D",
                    "ConvLSTM3D")


def recurrent_layers(path: Path) -> set[str]:
    """The recurrent layer classes a .keras/.h5 file's saved config names (read without importing TF)."""
    import re

    text = _saved_config(path)
    return {name for name in RECURRENT_LAYERS if re.search(rf'"class_name":\s*"{name}"', text)}


def _saved_config(path: Path) -> str:
    try:
        if path.suffix.lower() == ".keras":
            import zipfile

            with zipfile.ZipFile(path) as archive:
                return archive.read("config.json").decode("utf-8", "replace")
        if path.suffix.lower() in (".h5", ".hdf5"):
            import h5py

            with h5py.File(path, "r") as handle:
                value = handle.attrs.get("model_config", "")
                return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    except Exception:  # unreadable here: the real loader reports it properly
        return ""
    return ""

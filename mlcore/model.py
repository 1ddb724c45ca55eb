"""The Keras 3 network: a TabM-style efficient ensemble (Gorishniy et al., ICLR 2025).

k MLP members share each weight matrix W; member i sees ((x * r_i) @ W) * s_i + b_i
(BatchEnsemble adapters), then batch normalization, ReLU and dropout; each
member has its own linear head. Training uses the mean of the members'
losses; prediction the mean of their probabilities. Only the first layer's
input scaling r starts random (random signs), so that the members diverge.

This module imports Keras (and TensorFlow): training and tests only. The web
process serves the same network with the numpy forward pass of
``mlcore.network`` (``export_weights`` writes what it needs).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras import ops  # noqa: E402

from mlcore.network import WEIGHTS_FILE  # noqa: E402,F401 (re-exported)
from mlcore.schema import CLASSES  # noqa: E402

MODEL_FILE = "model.keras"


@keras.saving.register_keras_serializable(package="mlcore")
class EnsembleRepeat(keras.layers.Layer):
    """(batch, d) -> (batch, k, d): the same row for each of the k members."""

    def __init__(self, k: int, **kwargs):
        super().__init__(**kwargs)
        self.k = k

    def call(self, x):
        return ops.repeat(ops.expand_dims(x, 1), self.k, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.k, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "k": self.k}


@keras.saving.register_keras_serializable(package="mlcore")
class EnsembleLinear(keras.layers.Layer):
    """A linear layer shared by k members, with per-member input (r) and output (s) scaling and bias."""

    def __init__(self, units: int, k: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.k = k

    def build(self, input_shape):
        d = input_shape[-1]
        limit = 1.0 / np.sqrt(d)
        self.kernel = self.add_weight(
            shape=(d, self.units),
            initializer=keras.initializers.RandomUniform(-limit, limit),
            name="kernel",
        )
        self.r = self.add_weight(shape=(self.k, d), initializer="ones", name="r")
        self.s = self.add_weight(shape=(self.k, self.units), initializer="ones", name="s")
        self.bias = self.add_weight(
            shape=(self.k, self.units),
            initializer=keras.initializers.RandomUniform(-limit, limit),
            name="bias",
        )

    def call(self, x):
        return ops.einsum("bkd,du->bku", x * self.r, self.kernel) * self.s + self.bias

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.k, self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "k": self.k}


@keras.saving.register_keras_serializable(package="mlcore")
class EnsembleHead(keras.layers.Layer):
    """One linear head per member: (batch, k, h) -> (batch, k, classes) logits."""

    def __init__(self, units: int, k: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.k = k

    def build(self, input_shape):
        h = input_shape[-1]
        limit = 1.0 / np.sqrt(h)
        init = keras.initializers.RandomUniform(-limit, limit)
        self.kernel = self.add_weight(shape=(self.k, h, self.units), initializer=init, name="kernel")
        self.bias = self.add_weight(shape=(self.k, self.units), initializer=init, name="bias")

    def call(self, x):
        return ops.einsum("bkh,khc->bkc", x, self.kernel) + self.bias

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.k, self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "k": self.k}


def build_model(
    n_features: int,
    *,
    k: int = 8,
    width: int = 64,
    depth: int = 2,
    dropout: float = 0.1,
    seed: int = 0,
    name: str = "tabm",
) -> keras.Model:
    """A TabM network whose output is the members' probabilities, shape (batch, k, len(CLASSES))."""
    inputs = keras.Input(shape=(n_features,), name="features")
    x = EnsembleRepeat(k, name="repeat")(inputs)
    for i in range(depth):
        x = EnsembleLinear(width, k, name=f"linear_{i}")(x)
        x = keras.layers.BatchNormalization(name=f"batch_norm_{i}")(x)
        x = keras.layers.ReLU(name=f"relu_{i}")(x)
        x = keras.layers.Dropout(dropout, seed=seed + i, name=f"dropout_{i}")(x)
    logits = EnsembleHead(len(CLASSES), k, name="head")(x)
    outputs = keras.layers.Softmax(name="member_probabilities")(logits)
    model = keras.Model(inputs, outputs, name=name)
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=(k, n_features))
    model.get_layer("linear_0").r.assign(signs.astype("float32"))
    return model


def seed_ensemble(networks: list[keras.Model]) -> keras.Model:
    """One model from several TabM networks (one per seed): their members side by side, shape
    (batch, sum of k, classes), so the mean over members is the average of the networks' predictions."""
    if len(networks) == 1:
        return networks[0]
    inputs = keras.Input(shape=networks[0].input_shape[1:], name="features")
    outputs = keras.layers.Concatenate(axis=1, name="all_members")([network(inputs) for network in networks])
    return keras.Model(inputs, outputs, name="tabm_seeds")


def tabm_networks(model: keras.Model) -> list[keras.Model]:
    """The TabM networks inside a model made by seed_ensemble (or the model itself)."""
    inner = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return inner or [model]


def member_probabilities(model: keras.Model, features: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    """(n, members, classes): every member's probabilities (a direct call: no predict() overhead)."""
    chunks = [
        ops.convert_to_numpy(model(features[i : i + batch_size], training=False))
        for i in range(0, len(features), batch_size)
    ]
    return np.concatenate(chunks) if chunks else np.zeros((0, 1, len(CLASSES)), "float32")


def mean_probabilities(model: keras.Model, features: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    """The averaged prediction of the members (a direct call: no predict() overhead)."""
    chunks = [
        ops.convert_to_numpy(ops.mean(model(features[i : i + batch_size], training=False), axis=1))
        for i in range(0, len(features), batch_size)
    ]
    return np.concatenate(chunks) if chunks else np.zeros((0, len(CLASSES)), "float32")


def export_weights(model: keras.Model, path: str | Path) -> None:
    """Write the arrays of the numpy forward pass, folding batch normalization into each layer
    (one set of arrays per TabM network, prefixed "m0_", "m1_", ... when there are several)."""
    networks = tabm_networks(model)
    arrays: dict[str, np.ndarray] = {}
    for index, network in enumerate(networks):
        prefix = f"m{index}_" if len(networks) > 1 else ""
        arrays.update({prefix + name: value for name, value in _network_arrays(network).items()})
    np.savez_compressed(path, **arrays)


def _network_arrays(model: keras.Model) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    depth = sum(1 for layer in model.layers if isinstance(layer, EnsembleLinear))
    for i in range(depth):
        linear = model.get_layer(f"linear_{i}")
        norm = model.get_layer(f"batch_norm_{i}")
        gamma, beta, mean, var = (np.asarray(w, dtype=np.float64) for w in norm.get_weights())
        scale = gamma / np.sqrt(var + norm.epsilon)
        s = ops.convert_to_numpy(linear.s).astype(np.float64)
        b = ops.convert_to_numpy(linear.bias).astype(np.float64)
        arrays[f"kernel_{i}"] = ops.convert_to_numpy(linear.kernel).astype(np.float32)
        arrays[f"r_{i}"] = ops.convert_to_numpy(linear.r).astype(np.float32)
        arrays[f"s_{i}"] = (s * scale).astype(np.float32)
        arrays[f"b_{i}"] = ((b - mean) * scale + beta).astype(np.float32)
    head = model.get_layer("head")
    arrays["head_kernel"] = ops.convert_to_numpy(head.kernel).astype(np.float32)
    arrays["head_bias"] = ops.convert_to_numpy(head.bias).astype(np.float32)
    return arrays


def load_model(path: str | Path) -> keras.Model:
    return keras.saving.load_model(path, compile=False)

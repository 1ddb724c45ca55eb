"""The trained TabM network as numpy arrays: forward pass and input gradients, no TensorFlow.

Batch normalization is folded into each layer's output scaling and bias by
``mlcore.model.export_weights``; dropout is the identity at inference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

WEIGHTS_FILE = "weights.npz"
_CHUNK = 4096  # rows per block: keeps the (k, rows, width) activations small enough for the caches


class NumpyNetwork:
    """Forward pass of the exported TabM network: features (n, d) -> mean member probabilities (n, c).

    A model trained with several seeds saves each seed's network with a prefix ("m0_", "m1_", ...):
    their members are stacked into one ensemble of all members, so the mean over all of them is the
    average of the seeds' predictions (each seed has the same number of members), in the same few
    matrix products as one network.
    """

    def __init__(self, arrays: dict[str, np.ndarray]):
        prefixes = sorted({name.split("_", 1)[0] + "_" for name in arrays if name.startswith("m")}) or [""]
        self.networks = len(prefixes) if prefixes != [""] else 1
        self._parts = [{name[len(p) :]: arrays[name] for name in arrays if name.startswith(p)} for p in prefixes]
        self.depth = sum(1 for name in self._parts[0] if name.startswith("kernel_"))
        self.b = [np.concatenate([part[f"b_{i}"] for part in self._parts]) for i in range(self.depth)]
        self.head_kernel = np.concatenate([part["head_kernel"] for part in self._parts])  # (k, h, c)
        self.head_bias = np.concatenate([part["head_bias"] for part in self._parts])  # (k, c)
        self.k, self.width = self.b[0].shape
        self.first_kernel, self.fused = self._fused_kernels(np.float32)  # the forward pass
        self.first_bias = self.b[0].reshape(-1)
        self._kernels64 = None  # made when gradients are first asked for

    def _fused_kernels(self, dtype) -> tuple[np.ndarray, list[np.ndarray]]:
        """Fused per-member kernels: member i of layer l computes ((h * r_i) @ W) * s_i + b_i =
        h @ (r_i[:, None] * W * s_i[None, :]) + b_i. Each (k, d_in, d_out), and the first layer for all
        members at once as one (d, k * width) matrix."""
        fused = [
            np.ascontiguousarray(
                np.concatenate(
                    [
                        part[f"r_{i}"].astype(dtype)[:, :, None]
                        * part[f"kernel_{i}"].astype(dtype)[None]
                        * part[f"s_{i}"].astype(dtype)[:, None, :]
                        for part in self._parts
                    ]
                )
            )
            for i in range(self.depth)
        ]
        first = np.ascontiguousarray(fused[0].transpose(1, 0, 2).reshape(fused[0].shape[1], -1))
        return first, fused

    @classmethod
    def load(cls, path: str | Path) -> NumpyNetwork:
        with np.load(path) as data:
            return cls({name: data[name] for name in data.files})

    def member_logits(self, features: np.ndarray) -> np.ndarray:
        """(k, n, c) logits of every member."""
        n = len(features)
        h = features.astype(np.float32, copy=False) @ self.first_kernel  # (n, k * width)
        h += self.first_bias
        np.maximum(h, 0.0, out=h)
        h = h.reshape(n, self.k, self.width).transpose(1, 0, 2)  # (k, n, width), a view
        for i in range(1, self.depth):
            h = np.matmul(h, self.fused[i])
            h += self.b[i][:, None, :]
            np.maximum(h, 0.0, out=h)
        logits = np.matmul(h, self.head_kernel)
        logits += self.head_bias[:, None, :]
        return logits

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """(n, c) mean of the members' softmax probabilities."""
        out = []
        for start in range(0, len(features), _CHUNK):
            logits = self.member_logits(features[start : start + _CHUNK])
            logits -= logits.max(axis=-1, keepdims=True)
            np.exp(logits, out=logits)
            logits /= logits.sum(axis=-1, keepdims=True)
            out.append(logits.mean(axis=0))
        if not out:
            return np.zeros((0, self.head_bias.shape[-1]), dtype=np.float32)
        return np.concatenate(out)

    def probabilities_and_gradients(
        self, features: np.ndarray, temperature: float = 1.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities p (n, c) and their input gradients dp_c/dx (n, c, d).

        p = softmax(log(mean member probability) / temperature), as the Predictor reports it. The
        backward pass uses the fused per-member kernels, so each layer is one batched matmul.
        """
        first, fused, head = self._float64()
        x = features.astype(np.float64)
        n, k, width = len(x), self.k, self.width
        z = x @ first + self.first_bias  # (n, k * width)
        masks = [(z > 0).reshape(n, k, width).transpose(1, 0, 2)]  # each (k, n, width)
        h = np.maximum(z, 0.0).reshape(n, k, width).transpose(1, 0, 2)
        for i in range(1, self.depth):
            z = h @ fused[i] + self.b[i][:, None, :]
            masks.append(z > 0)
            h = np.maximum(z, 0.0)
        logits = h @ head + self.head_bias[:, None, :]  # (k, n, c)
        logits -= logits.max(axis=-1, keepdims=True)
        member = np.exp(logits)
        member /= member.sum(axis=-1, keepdims=True)
        mean = member.mean(axis=0)  # (n, c)
        scaled = np.log(np.maximum(mean, 1e-12)) / temperature
        scaled -= scaled.max(axis=-1, keepdims=True)
        p = np.exp(scaled)
        p /= p.sum(axis=-1, keepdims=True)

        c = p.shape[1]
        # d p_j / d mean_m = p_j (delta_jm - p_m) / (T mean_m): one row per output class j.
        eye = np.eye(c)
        grad_mean = p[:, :, None] * (eye[None] - p[:, None, :]) / (temperature * np.maximum(mean, 1e-12))[:, None, :]
        # d mean_m / d logit_{k,l} = member_{k,m} (delta_ml - member_{k,l}) / k, for each member k.
        g_member = grad_mean[None] / k  # (1, n, j, c)
        m = member[:, :, None, :]  # (k, n, 1, c)
        g = m * (g_member - (g_member * m).sum(-1, keepdims=True))  # (k, n, j, c)
        g = g.reshape(k, n * c, c) @ head.transpose(0, 2, 1)  # (k, n * j, width)
        for i in reversed(range(1, self.depth)):
            g = (g.reshape(k, n, c, width) * masks[i][:, :, None, :]).reshape(k, n * c, width)
            g = g @ fused[i].transpose(0, 2, 1)
        g = g.reshape(k, n, c, width) * masks[0][:, :, None, :]
        g = g.transpose(1, 2, 0, 3).reshape(n * c, k * width)
        return p, (g @ first.T).reshape(n, c, -1)

    def _float64(self):
        """The fused kernels and the head in float64, for gradients (made once)."""
        if self._kernels64 is None:
            self._kernels64 = (*self._fused_kernels(np.float64), self.head_kernel.astype(np.float64))
        return self._kernels64

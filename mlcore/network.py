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
    """Forward pass of the exported TabM network: features (n, d) -> mean member probabilities (n, c)."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.depth = sum(1 for name in arrays if name.startswith("kernel_"))
        self.kernels = [arrays[f"kernel_{i}"] for i in range(self.depth)]
        self.r = [arrays[f"r_{i}"] for i in range(self.depth)]
        self.s = [arrays[f"s_{i}"] for i in range(self.depth)]
        self.b = [arrays[f"b_{i}"] for i in range(self.depth)]
        self.head_kernel = arrays["head_kernel"]  # (k, h, c)
        self.head_bias = arrays["head_bias"]  # (k, c)
        self.k, self.width = self.s[0].shape
        # Fused per-member kernels for the forward pass: member i of layer l computes
        # ((h * r_i) @ W) * s_i + b_i = h @ (r_i[:, None] * W * s_i[None, :]) + b_i.
        self.fused = [
            np.ascontiguousarray(r[:, :, None] * w[None, :, :] * s_[:, None, :], dtype=np.float32)
            for r, w, s_ in zip(self.r, self.kernels, self.s, strict=True)
        ]  # each (k, d_in, d_out)
        # The first layer for all members at once: one (d, k * width) matrix.
        first = self.fused[0]
        self.first_kernel = np.ascontiguousarray(first.transpose(1, 0, 2).reshape(first.shape[1], -1))
        self.first_bias = self.b[0].reshape(-1)

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

        p = softmax(log(mean member probability) / temperature), as the Predictor reports it.
        """
        x = features.astype(np.float64)
        k = self.k
        kernels = [w.astype(np.float64) for w in self.kernels]
        pre, acts = [], []
        h = x[:, None, :] * self.r[0]  # (n, k, d)
        for i in range(self.depth):
            if i:
                h = h * self.r[i]
            z = (h @ kernels[i]) * self.s[i] + self.b[i]
            pre.append(z)
            h = np.maximum(z, 0.0)
            acts.append(h)
        head = self.head_kernel.astype(np.float64)  # (k, h, c)
        # matmul rather than einsum: the same sums, several times faster for one explained row.
        logits = (h[:, :, None, :] @ head)[:, :, 0, :] + self.head_bias
        logits -= logits.max(axis=-1, keepdims=True)
        member = np.exp(logits)
        member /= member.sum(axis=-1, keepdims=True)  # (n, k, c)
        mean = member.mean(axis=1)  # (n, c)
        scaled = np.log(np.maximum(mean, 1e-12)) / temperature
        scaled -= scaled.max(axis=-1, keepdims=True)
        p = np.exp(scaled)
        p /= p.sum(axis=-1, keepdims=True)

        c = p.shape[1]
        # d p_j / d mean_m = p_j (delta_jm - p_m) / (T mean_m): one row per output class j.
        eye = np.eye(c)
        grad_mean = p[:, :, None] * (eye[None] - p[:, None, :]) / (temperature * np.maximum(mean, 1e-12))[:, None, :]
        # d mean_m / d logit_{k,l} = member_{k,m} (delta_ml - member_{k,l}) / k
        g_member = grad_mean[:, :, None, :] / k  # (n, j, k, m)
        g_logits = member[:, None] * (g_member - (g_member * member[:, None]).sum(-1, keepdims=True))
        g = (g_logits[..., None, :] @ head.transpose(0, 2, 1))[..., 0, :]  # (n, j, k, h)
        for i in reversed(range(self.depth)):
            g = g * (pre[i] > 0)[:, None] * self.s[i]
            g = (g @ kernels[i].T) * self.r[i]
        grad_x = g.sum(axis=2)  # (n, j, d)
        return p, grad_x

"""TensorFlow twins of the PyTorch reference models, built from the same weights.

Each twin takes the torch model's own input layout (NCHW for images); the transpose to TF's
NHWC happens inside the graph, so both servers receive byte-identical tensors. Padding is written
out explicitly because TF's "SAME" padding is asymmetric at stride 2 where PyTorch's is not.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

BN_EPSILON = 1e-5  # PyTorch's BatchNorm default (Keras uses 1e-3)


class _Twin(tf.Module):
    """Holds the weights as non-trainable variables, named after the torch state_dict keys."""

    def __init__(self, weights: dict[str, np.ndarray], name: str) -> None:
        super().__init__(name=name)
        self.params = {
            key.replace(".", "/"): tf.Variable(_to_tf_layout(key, value), trainable=False)
            for key, value in weights.items()
            if not key.endswith("num_batches_tracked")
        }

    def _get(self, key: str) -> tf.Variable:
        return self.params[key.replace(".", "/")]

    def _has(self, key: str) -> bool:
        return key.replace(".", "/") in self.params

    def _dense(self, x: tf.Tensor, prefix: str) -> tf.Tensor:
        return tf.matmul(x, self._get(f"{prefix}.weight")) + self._get(f"{prefix}.bias")


class ResNet18Twin(_Twin):
    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        super().__init__(weights, name="resnet18")

    def __call__(self, images_nchw: tf.Tensor) -> tf.Tensor:
        x = tf.transpose(images_nchw, [0, 2, 3, 1])
        x = tf.nn.relu(self._bn(self._conv(x, "conv1", stride=2, pad=3), "bn1"))
        x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=float("-inf"))
        x = tf.nn.max_pool2d(x, 3, 2, "VALID")
        for stage in range(1, 5):
            x = self._block(x, f"layer{stage}.0", stride=1 if stage == 1 else 2)
            x = self._block(x, f"layer{stage}.1", stride=1)
        x = tf.reduce_mean(x, axis=[1, 2])
        return self._dense(x, "fc")

    def _block(self, x: tf.Tensor, prefix: str, stride: int) -> tf.Tensor:
        identity = x
        if self._has(f"{prefix}.downsample.0.weight"):
            identity = self._conv(x, f"{prefix}.downsample.0", stride=stride, pad=0)
            identity = self._bn(identity, f"{prefix}.downsample.1")
        out = tf.nn.relu(self._bn(self._conv(x, f"{prefix}.conv1", stride, 1), f"{prefix}.bn1"))
        out = self._bn(self._conv(out, f"{prefix}.conv2", 1, 1), f"{prefix}.bn2")
        return tf.nn.relu(out + identity)

    def _conv(self, x: tf.Tensor, prefix: str, stride: int, pad: int) -> tf.Tensor:
        if pad:
            x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
        return tf.nn.conv2d(x, self._get(f"{prefix}.weight"), stride, "VALID")

    def _bn(self, x: tf.Tensor, prefix: str) -> tf.Tensor:
        return tf.nn.batch_normalization(
            x,
            mean=self._get(f"{prefix}.running_mean"),
            variance=self._get(f"{prefix}.running_var"),
            offset=self._get(f"{prefix}.bias"),
            scale=self._get(f"{prefix}.weight"),
            variance_epsilon=BN_EPSILON,
        )


class MLPTwin(_Twin):
    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        super().__init__(weights, name="mlp")

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        x = tf.nn.relu(self._dense(x, "fc1"))
        x = tf.nn.relu(self._dense(x, "fc2"))
        return self._dense(x, "fc3")


def _to_tf_layout(key: str, value: np.ndarray) -> np.ndarray:
    """Copy one torch tensor into TF's layout: conv OIHW -> HWIO, linear [out,in] -> [in,out]."""
    if value.ndim == 4:
        return np.ascontiguousarray(value.transpose(2, 3, 1, 0))
    if value.ndim == 2:
        return np.ascontiguousarray(value.T)
    return value


TWINS = {"resnet18": ResNet18Twin, "mlp": MLPTwin}


def build_twin(name: str, weights: dict[str, np.ndarray]) -> _Twin:
    """The TF twin of model ``name`` carrying a copy of the torch ``weights``."""
    return TWINS[name](weights)

"""The TF Serving artifact: a SavedModel whose signature validates its own input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import tensorflow as tf

from servebench.models import ModelSpec
from servebench.models.tf_twins import build_twin

SIGNATURE = "serving_default"


class ServingModule(tf.Module):
    """The twin plus the checks TF Serving itself does not make (finite values, batch limit)."""

    def __init__(self, spec: ModelSpec, weights: dict[str, np.ndarray], max_batch: int) -> None:
        super().__init__(name=f"{spec.name}_serving")
        self.twin = build_twin(spec.name, weights)
        self.max_batch = max_batch
        self.spec = spec
        input_spec = tf.TensorSpec([None, *spec.input_shape], tf.float32, name=spec.input_name)
        self.serve = tf.function(self._serve, input_signature=[input_spec], autograph=False)

    def _serve(self, batch: tf.Tensor) -> dict[str, tf.Tensor]:
        size = tf.shape(batch)[0]
        shape = ",".join(str(dim) for dim in self.spec.input_shape)
        expected = f"expected float32 of shape [N,{shape}] with 1 <= N <= {self.max_batch}"
        checks = [
            tf.debugging.assert_less_equal(
                size, self.max_batch, message=f"batch is above the maximum; {expected}"
            ),
            tf.debugging.assert_greater_equal(size, 1, message=f"batch is empty; {expected}"),
        ]
        with tf.control_dependencies(checks):
            batch = tf.debugging.assert_all_finite(
                batch, f"the input contains NaN or Infinity; {expected}"
            )
        return {self.spec.output_name: self.twin(batch)}


def write_savedmodel(
    spec: ModelSpec, weights: dict[str, np.ndarray], path: Path, max_batch: int
) -> Path:
    """Write the SavedModel for ``spec`` to ``path`` (a TF Serving version folder)."""
    if path.exists():
        shutil.rmtree(path)
    module = ServingModule(spec, weights, max_batch)
    tf.saved_model.save(module, str(path), signatures={SIGNATURE: module.serve})
    return path


def load_savedmodel(spec: ModelSpec, path: Path):
    """A ``predict(np.ndarray) -> np.ndarray`` that runs the SavedModel read back from disk."""
    signature = tf.saved_model.load(str(path)).signatures[SIGNATURE]

    def predict(batch: np.ndarray) -> np.ndarray:
        outputs = signature(**{spec.input_name: tf.constant(batch)})
        return outputs[spec.output_name].numpy()

    return predict

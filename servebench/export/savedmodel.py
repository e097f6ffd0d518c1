"""The TF Serving artifact: a SavedModel whose signature validates its own input. Its model is the
reference model's TensorFlow twin, or for a user's model the graph onnx2tf converted."""

from __future__ import annotations

import ctypes
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf

from servebench.models import ModelSpec
from servebench.models.tf_twins import build_twin

SIGNATURE = "serving_default"


class ServingModule(tf.Module):
    """The model plus the checks TF Serving itself does not make (the shape, finite values,
    the batch limit): TF Serving checks no shape against the signature, and a model that pools
    globally would otherwise answer an image of the wrong size."""

    def __init__(self, spec: ModelSpec, twin: tf.Module, max_batch: int) -> None:
        super().__init__(name=f"{spec.name}_serving")
        self.twin = twin
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
            tf.debugging.Assert(self._row_shape_matches(batch), [f"wrong row shape; {expected}"]),
        ]
        with tf.control_dependencies(checks):
            batch = tf.debugging.assert_all_finite(
                batch, f"the input contains NaN or Infinity; {expected}"
            )
        return {self.spec.output_name: self.twin(batch)}

    def _row_shape_matches(self, batch: tf.Tensor) -> tf.Tensor:
        row = tf.shape(batch)[1:]
        wanted = tf.constant(self.spec.input_shape, dtype=row.dtype)
        return tf.cond(
            tf.equal(tf.size(row), len(self.spec.input_shape)),
            lambda: tf.reduce_all(tf.equal(row, wanted)),
            lambda: tf.constant(False),
        )


def twin_of(spec: ModelSpec, weights: dict[str, np.ndarray]) -> tf.Module:
    """A reference model's TensorFlow twin, holding ``weights``."""
    return build_twin(spec.name, weights)


class ConvertedModel(tf.Module):
    """A SavedModel that onnx2tf wrote, called with the batch; its one output is the logits."""

    def __init__(self, folder: Path, input_name: str) -> None:
        super().__init__(name="converted")
        self.converted = tf.saved_model.load(str(folder))
        self.input_name = input_name

    def __call__(self, batch: tf.Tensor) -> tf.Tensor:
        outputs = self.converted.signatures[SIGNATURE](**{self.input_name: batch})
        (logits,) = outputs.values()
        return logits


def write_savedmodel(spec: ModelSpec, twin: tf.Module, path: Path, max_batch: int) -> Path:
    """Write the SavedModel serving ``twin`` for ``spec`` to ``path`` (a TF Serving version
    folder).

    A TF Serving that watches the model's folder must never see the version vanish (it would
    unload the model) nor a half-written one: the model is written to a staging folder beside
    it, whose name is not a number so the server ignores it, and then swapped in at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{path.name}-", dir=path.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would hide the model from a server of another user
    try:
        module = ServingModule(spec, twin, max_batch)
        tf.saved_model.save(module, str(staging), signatures={SIGNATURE: module.serve})
        replace_folder(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def replace_folder(new: Path, path: Path) -> None:
    """Put folder ``new`` at ``path`` in one step, so a server never sees ``path`` missing;
    the folder that was at ``path``, if any, is left at ``new`` for the caller to remove."""
    if path.exists():
        exchange(new, path)
    else:
        new.rename(path)


def exchange(first: Path, second: Path) -> None:
    """Swap two folders in one step (Linux renameat2 with RENAME_EXCHANGE)."""
    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd, rename_exchange = -100, 2
    if libc.renameat2(at_fdcwd, bytes(first), at_fdcwd, bytes(second), rename_exchange) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"cannot swap {first} and {second}: {os.strerror(error)}")


def load_savedmodel(spec: ModelSpec, path: Path):
    """A ``predict(np.ndarray) -> np.ndarray`` that runs the SavedModel read back from disk."""
    signature = tf.saved_model.load(str(path)).signatures[SIGNATURE]

    def predict(batch: np.ndarray) -> np.ndarray:
        outputs = signature(**{spec.input_name: tf.constant(batch)})
        return outputs[spec.output_name].numpy()

    return predict

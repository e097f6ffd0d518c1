"""Models loaded from a TF Serving model config, and Predict as TF Serving runs it."""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2
from tensorflow_serving.config import model_server_config_pb2

DEFAULT_SIGNATURE = "serving_default"


class ServingError(Exception):
    """An error TF Serving would return, with its canonical status code."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


@dataclass(frozen=True)
class InputInfo:
    name: str
    dtype: np.dtype
    shape: tuple[int, ...]  # -1 for an unknown dimension
    tf_dtype_name: str


class Servable:
    """One version of one model: its signatures, runnable and as SignatureDef protos."""

    def __init__(self, name: str, version: int, path: Path) -> None:
        self.name = name
        self.version = version
        self.loaded = tf.saved_model.load(str(path))
        self.signature_defs = _read_signature_defs(path)

    def input_infos(self, signature_name: str) -> dict[str, InputInfo]:
        signature = self.signature_def(signature_name)
        return {
            alias: InputInfo(
                alias,
                np.dtype(tf.dtypes.as_dtype(info.dtype).as_numpy_dtype),
                tuple(dim.size for dim in info.tensor_shape.dim),
                types_pb2.DataType.Name(info.dtype),
            )
            for alias, info in signature.inputs.items()
        }

    def signature_def(self, signature_name: str) -> meta_graph_pb2.SignatureDef:
        key = signature_name or DEFAULT_SIGNATURE
        if key not in self.signature_defs:
            raise invalid(f'Serving signature name: "{key}" not found in signature def')
        return self.signature_defs[key]

    def predict(
        self,
        signature_name: str,
        inputs: dict[str, np.ndarray],
        output_filter: list[str],
        timeout_s: float | None = None,
    ) -> dict[str, np.ndarray]:
        infos = self.input_infos(signature_name)
        _check_aliases(infos, inputs)
        feeds = {alias: _checked_tensor(infos[alias], array) for alias, array in inputs.items()}
        outputs = self.run(signature_name, feeds, timeout_s)
        if output_filter:
            unknown = sorted(set(output_filter) - set(outputs))
            if unknown:
                raise invalid(f"output tensor alias not found in signature: {unknown[0]}")
            outputs = {alias: outputs[alias] for alias in output_filter}
        return outputs

    def run(
        self, signature_name: str, feeds: dict[str, tf.Tensor], timeout_s: float | None = None
    ) -> dict[str, np.ndarray]:
        """The signature's graph on ``feeds``, keyed by the SignatureDef's input keys, as TF
        Serving's session run gets them: no shape check beyond the graph's own. A run that
        outlives ``timeout_s`` (TF Serving's RunOptions.timeout_in_ms) is DEADLINE_EXCEEDED."""
        function = self.loaded.signatures[signature_name or DEFAULT_SIGNATURE]
        future = _RUNNER.submit(_call, function, feeds)
        try:
            return future.result(timeout=timeout_s)
        except futures.TimeoutError:
            raise ServingError(
                grpc.StatusCode.DEADLINE_EXCEEDED, "Timed out waiting for notification"
            ) from None


def _call(function, feeds: dict[str, tf.Tensor]) -> dict[str, np.ndarray]:
    try:
        outputs = function(**feeds)
    except tf.errors.OpError as exc:
        raise ServingError(_status_code(exc.error_code), _op_message(exc.message)) from None
    except (TypeError, ValueError) as exc:  # the function's own binding refused the feeds
        raise invalid(" ".join(str(exc).split())) from None
    return {alias: tensor.numpy() for alias, tensor in outputs.items()}


# Signature runs happen here so that a caller can stop waiting at a deadline; the run itself
# cannot be cancelled and finishes in the background, as an abandoned session run would.
_RUNNER = futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="signature-run")


class ServableRegistry:
    """The models to serve, by name and base path. As TF Serving's default version policy does,
    the newest numeric version folder of each is loaded and the others unloaded; a model whose
    config pins specific versions (model_version_policy { specific { versions: N } }) considers
    those only. ``refresh`` looks again (the server calls it every
    --file_system_poll_wait_seconds)."""

    def __init__(
        self, bases: dict[str, Path], log=print, pinned: dict[str, set[int]] | None = None
    ) -> None:
        self.bases = bases
        self.log = log
        self.pinned = pinned or {}
        self.servables: dict[str, dict[int, Servable]] = {name: {} for name in bases}
        self._lock = threading.Lock()
        self.refresh()

    @classmethod
    def from_config_file(cls, config_file: Path, log=print) -> ServableRegistry:
        bases, pinned = read_model_config(config_file)
        return cls(bases, log, pinned)

    def reconfigure(self, bases: dict[str, Path], pinned: dict[str, set[int]]) -> None:
        """A new model config, as TF Serving's ReloadConfig applies it: models it no longer
        names are unloaded, new ones loaded, and changed paths or policies take effect."""
        with self._lock:
            for name in set(self.servables) - set(bases):
                self.log(f"{name}: no longer in the model config; unloading")
                del self.servables[name]
            for name in bases:
                if self.bases.get(name) != bases[name]:  # another model under the same name
                    self.servables[name] = {}
            self.bases, self.pinned = dict(bases), dict(pinned)
            self._refresh()

    def refresh(self) -> None:
        with self._lock:  # the file-system poll and a config reload run in separate threads
            self._refresh()

    def _refresh(self) -> None:
        for name, base in self.bases.items():
            found = _latest_version(base, self.pinned.get(name))
            latest, folder = found if found else (None, None)
            loaded = self.servables.setdefault(name, {})
            if latest is None:
                if loaded:
                    self.log(f"{name}: no version folder under {base} any more; unloading")
                    self.servables[name] = {}
                continue
            if latest in loaded:
                continue
            try:
                servable = Servable(name, latest, folder)
            except Exception as exc:  # a half-written folder is retried at the next poll
                self.log(f"{name}: version {latest} did not load ({type(exc).__name__}: {exc})")
                continue
            # The new version replaces the old in one assignment: requests see one or the other.
            self.servables[name] = {latest: servable}
            self.log(f"{name}: version {latest} loaded from {folder}")

    def get(self, name: str, version: int | None = None) -> Servable:
        versions = self.servables.get(name, {})
        if version is None and versions:
            return versions[max(versions)]
        if version in versions:
            return versions[version]
        wanted = f"Latest({name})" if version is None else f"Specific({name}, {version})"
        raise ServingError(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: {wanted}")

    def status(self, name: str, version: int | None = None) -> list[Servable]:
        """The versions GetModelStatus reports, or NOT_FOUND worded as TF Serving words it."""
        versions = self.servables.get(name)
        if not versions:
            raise ServingError(
                grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {name}"
            )
        if version is None:
            return list(versions.values())
        if version not in versions:
            raise ServingError(
                grpc.StatusCode.NOT_FOUND, f"Could not find version {version} of model {name}"
            )
        return [versions[version]]


def read_model_config(config_file: Path) -> tuple[dict[str, Path], dict[str, set[int]]]:
    """The models a ModelServerConfig text file names: base paths, and pinned versions.
    Raises text_format.ParseError for a malformed file and OSError for an unreadable one."""
    config = model_server_config_pb2.ModelServerConfig()
    text_format.Parse(config_file.read_text(), config)
    models = config.model_config_list.config
    pinned = {
        m.name: set(m.model_version_policy.specific.versions)
        for m in models
        if m.model_version_policy.WhichOneof("policy_choice") == "specific"
    }
    return {m.name: Path(m.base_path) for m in models}, pinned


def _latest_version(base: Path, allowed: set[int] | None = None) -> tuple[int, Path] | None:
    """The highest version folder (of ``allowed``, if given) that holds a saved_model.pb, and
    its path, or None. As in TF Serving, a folder's name is read as an integer: `00000123` is
    version 123, and the comparison is numeric, not by name."""
    try:
        folders = {
            int(p.name): p
            for p in sorted(base.iterdir())
            if p.name.isdigit() and (p / "saved_model.pb").exists()
        }
    except OSError:
        return None
    versions = [v for v in folders if allowed is None or v in allowed]
    return (max(versions), folders[max(versions)]) if versions else None


def _read_signature_defs(path: Path) -> dict[str, meta_graph_pb2.SignatureDef]:
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((path / "saved_model.pb").read_bytes())
    return dict(saved_model.meta_graphs[0].signature_def)


def _check_aliases(infos: dict[str, InputInfo], inputs: dict[str, np.ndarray]) -> None:
    if set(inputs) == set(infos):
        return
    extra = sorted(set(inputs) - set(infos))
    missing = sorted(set(infos) - set(inputs))
    raise invalid(
        f"input size does not match signature: {len(inputs)}!={len(infos)} "
        f"len({sorted(inputs)}) != len({sorted(infos)}). "
        f"Sent extra: {extra}. Missing but required: {missing}."
    )


def _checked_tensor(info: InputInfo, array: np.ndarray) -> tf.Tensor:
    """The input as a tensor of the signature's dtype. Its shape is not checked: TF Serving
    feeds the tensor as given and only the graph itself may refuse it."""
    if array.dtype != info.dtype:
        raise invalid(
            f"Expects arg[0] to be {_type_name(info.dtype)} but {_type_name(array.dtype)} "
            "is provided"
        )
    return tf.constant(array)


def _status_code(tf_code: int) -> grpc.StatusCode:
    """TF's error codes are the canonical gRPC status codes, by number."""
    return next((c for c in grpc.StatusCode if c.value[0] == tf_code), grpc.StatusCode.INTERNAL)


def _type_name(dtype: np.dtype) -> str:
    """TF's own spelling of a dtype in error messages: float, double, string, ..."""
    if dtype.kind in "OSU":
        return "string"
    return types_pb2.DataType.Name(tf.dtypes.as_dtype(dtype).as_datatype_enum)[3:].lower()


def _op_message(message: str) -> str:
    """The runtime's message without eager mode's preamble ("Graph execution error: Detected
    at node ...") that a TF Serving session never prints."""
    marker = "<stack traces unavailable>"
    if marker in message:
        message = message.split(marker, 1)[1]
    return " ".join(line.strip() for line in message.strip().splitlines() if line.strip())

"""Classify, Regress and MultiInference over tf.Example inputs, as TF Serving runs them: the
examples are serialized into the signature's one string input, ``inputs``, and the outputs
(``classes``/``scores``, or ``outputs``) are read back as its result protos."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    inference_pb2,
    input_pb2,
    regression_pb2,
)

from servebench.backends.tfserving_emulator.servables import (
    DEFAULT_SIGNATURE,
    Servable,
    ServableRegistry,
    invalid,
)

CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"


def serialized_examples(proto: input_pb2.Input) -> list[bytes]:
    """Each example as the bytes the graph parses. With a context, the context's bytes come
    first: parsing the concatenation merges the two, as TF Serving's serialization does."""
    kind = proto.WhichOneof("kind")
    if kind == "example_list":
        examples, context = proto.example_list.examples, b""
    elif kind == "example_list_with_context":
        examples = proto.example_list_with_context.examples
        context = proto.example_list_with_context.context.SerializeToString()
    else:
        raise invalid("Input is empty")
    if not examples:
        raise invalid("Input is empty")
    return [context + example.SerializeToString() for example in examples]


def _signature(servable: Servable, name: str):
    key = name or DEFAULT_SIGNATURE
    if key not in servable.signature_defs:
        raise invalid(f"No signature was found with the name: {key}")
    return servable.signature_defs[key]


def _run(servable: Servable, name: str, examples: list[bytes], timeout_s: float | None) -> dict:
    feeds = {"inputs": tf.constant(examples, dtype=tf.string)}
    return servable.run(name, feeds, timeout_s)


def classify(
    servable: Servable, name: str, proto: input_pb2.Input, timeout_s: float | None = None
) -> classification_pb2.ClassificationResult:
    signature = _signature(servable, name)
    if len(signature.inputs) != 1:
        raise invalid("Expected one input Tensor.")
    if len(signature.outputs) not in (1, 2):
        raise invalid(f"Expected one or two output Tensors, found {len(signature.outputs)}")
    if "inputs" not in signature.inputs:
        raise invalid("No classification inputs found in SignatureDef")
    if not {"classes", "scores"} & set(signature.outputs):
        raise invalid(
            'Expected classification signature outputs to contain at least one of "classes" '
            'or "scores"'
        )
    examples = serialized_examples(proto)
    outputs = _run(servable, name, examples, timeout_s)
    classes, scores = outputs.get("classes"), outputs.get("scores")
    for array in (a for a in (classes, scores) if a is not None):
        if array.ndim != 2 or array.shape[0] != len(examples):
            raise invalid(
                f"Expected Tensor shape: [batch_size num_classes] but got {list(array.shape)}"
            )
    width = (classes if classes is not None else scores).shape[1]
    result = classification_pb2.ClassificationResult()
    for row in range(len(examples)):
        classifications = result.classifications.add()
        for column in range(width):
            entry = classifications.classes.add()
            if classes is not None:
                entry.label = classes[row, column].decode()
            if scores is not None:
                entry.score = float(scores[row, column])
    return result


def regress(
    servable: Servable, name: str, proto: input_pb2.Input, timeout_s: float | None = None
) -> regression_pb2.RegressionResult:
    signature = _signature(servable, name)
    if len(signature.inputs) != 1:
        raise invalid("Expected one input Tensor.")
    if len(signature.outputs) != 1:
        raise invalid("Expected one output Tensor.")
    if "inputs" not in signature.inputs:
        raise invalid("No regression inputs found in SignatureDef")
    if "outputs" not in signature.outputs:
        raise invalid("No regression outputs found in SignatureDef")
    examples = serialized_examples(proto)
    values = np.asarray(_run(servable, name, examples, timeout_s)["outputs"])
    if not (values.ndim == 1 or (values.ndim == 2 and values.shape[1] == 1)):
        raise invalid(
            "Expected output Tensor shape to be either [batch_size] or [batch_size, 1] "
            f"but got {list(values.shape)}"
        )
    if values.shape[0] != len(examples):
        raise invalid(
            "Input batch size did not match output batch size: "
            f"{len(examples)} vs. {values.shape[0]}"
        )
    result = regression_pb2.RegressionResult()
    for value in values.reshape(-1):
        result.regressions.add().value = float(value)
    return result


def multi_inference(
    registry: ServableRegistry, request: inference_pb2.MultiInferenceRequest
) -> inference_pb2.MultiInferenceResponse:
    """Every task on the same model and the same input; each task's method says which."""
    if not request.tasks:
        raise invalid("Expected at least one task")
    names = {task.model_spec.name for task in request.tasks}
    if len(names) != 1:
        raise invalid("All ModelSpecs in a MultiInferenceRequest must access the same model name")
    first = request.tasks[0].model_spec
    version = first.version.value if first.HasField("version") else None
    servable = registry.get(first.name, version)
    seen: set[str] = set()
    response = inference_pb2.MultiInferenceResponse()
    for task in request.tasks:
        signature = task.model_spec.signature_name or DEFAULT_SIGNATURE
        if signature in seen:
            raise invalid(f"Duplicate evaluation of signature: {signature}")
        seen.add(signature)
        result = response.results.add()
        if task.method_name == CLASSIFY:
            result.classification_result.CopyFrom(classify(servable, signature, request.input))
        elif task.method_name == REGRESS:
            result.regression_result.CopyFrom(regress(servable, signature, request.input))
        else:
            raise invalid(f"Unsupported signature method_name: {task.method_name}")
        result.model_spec.name = servable.name
        result.model_spec.version.value = servable.version
        result.model_spec.signature_name = signature
    return response

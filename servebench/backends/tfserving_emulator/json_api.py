"""TF Serving's REST predict body: row ("instances") and columnar ("inputs") JSON <-> tensors."""

from __future__ import annotations

import base64
import json

import numpy as np

from servebench.backends.tfserving_emulator.servables import InputInfo, invalid

ROW, COLUMNAR = "row", "columnar"


def parse_body(body: bytes) -> dict:
    """The request object; TF Serving ignores Content-Type and always parses JSON.

    Like TF Serving's parser, this accepts the NaN and Infinity tokens; the model decides.
    """
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise invalid(f"JSON Parse error: {exc}") from None
    if not isinstance(document, dict):
        raise invalid("JSON Parse error: the request body must be a JSON object")
    return document


def request_form(document: dict) -> str:
    has_rows, has_columns = "instances" in document, "inputs" in document
    if has_rows and has_columns:
        raise invalid(
            "Not formatted correctly expecting only one of 'inputs' or 'instances' keys exclusively"
        )
    if not (has_rows or has_columns):
        raise invalid("Missing 'inputs' or 'instances' key")
    return ROW if has_rows else COLUMNAR


def tensors_from_json(document: dict, infos: dict[str, InputInfo]) -> dict[str, np.ndarray]:
    if request_form(document) == ROW:
        return _from_rows(document["instances"], infos)
    return _from_columns(document["inputs"], infos)


def json_from_tensors(outputs: dict[str, np.ndarray], form: str) -> dict:
    if form == COLUMNAR:
        if len(outputs) == 1:
            return {"outputs": next(iter(outputs.values())).tolist()}
        return {"outputs": {alias: array.tolist() for alias, array in outputs.items()}}
    if len(outputs) == 1:
        return {"predictions": next(iter(outputs.values())).tolist()}
    rows = len(next(iter(outputs.values())))
    return {"predictions": [{a: v[i].tolist() for a, v in outputs.items()} for i in range(rows)]}


def _from_rows(instances, infos: dict[str, InputInfo]) -> dict[str, np.ndarray]:
    if not isinstance(instances, list) or not instances:
        raise invalid("Expecting 'instances' to be a non-empty list/array")
    if all(isinstance(row, dict) for row in instances):
        return {
            alias: _to_array([_named(row, alias) for row in instances], info)
            for alias, info in infos.items()
        }
    if len(infos) != 1:
        raise invalid(f"instances must be objects naming each input: {sorted(infos)}")
    ((alias, info),) = infos.items()
    return {alias: _to_array(instances, info)}


def _from_columns(inputs, infos: dict[str, InputInfo]) -> dict[str, np.ndarray]:
    if isinstance(inputs, dict):
        return {
            alias: _to_array(value, infos[alias]) if alias in infos else np.asarray(value)
            for alias, value in inputs.items()
        }
    if len(infos) != 1:
        raise invalid(f"'inputs' must be an object naming each input: {sorted(infos)}")
    ((alias, info),) = infos.items()
    return {alias: _to_array(inputs, info)}


def _named(row: dict, alias: str):
    if alias not in row:
        raise invalid(f"Missing input tensor alias: {alias}")
    return row[alias]


def _to_array(value, info: InputInfo) -> np.ndarray:
    try:
        array = np.asarray(value)
    except ValueError:
        raise invalid(
            f"Failed to process tensor {info.name}: the JSON arrays are ragged "
            "(all rows must have the same shape)"
        ) from None
    if array.dtype.kind not in "iuf":
        raise invalid(
            f"Failed to process tensor {info.name}: JSON value of type "
            f"{_json_type(array)} is not of expected type: {info.tf_dtype_name[3:].lower()}"
        )
    return array.astype(info.dtype)


def _json_type(array: np.ndarray) -> str:
    return {"b": "Bool", "U": "String", "S": "String"}.get(array.dtype.kind, "mixed/null")


def examples_from_json(document: dict, method: str):
    """A :classify or :regress body as the Input proto TF Serving builds from it: "examples"
    (a non-empty list of objects) and an optional "context", each feature a value or a list."""
    from tensorflow_serving.apis import input_pb2

    proto = input_pb2.Input()
    examples = document.get("examples")
    if examples is None:
        raise invalid(f"When method is {method}, key 'examples' is expected and was not found")
    if not isinstance(examples, list):
        raise invalid("Expecting 'examples' value to be an list/array")
    if not examples:
        raise invalid("'examples' value is an empty array")
    if "context" in document:
        with_context = proto.example_list_with_context
        _fill_example(document["context"], with_context.context)
        targets = [with_context.examples.add() for _ in examples]
    else:
        targets = [proto.example_list.examples.add() for _ in examples]
    for value, example in zip(examples, targets, strict=True):
        _fill_example(value, example)
    return proto


def _fill_example(value, example) -> None:
    if not isinstance(value, dict):
        raise invalid(f"Example must be JSON object but got JSON {type(value).__name__}")
    for name, content in value.items():
        feature = example.features.feature[name]
        for element in content if isinstance(content, list) else [content]:
            _add_value(element, name, feature)


# JSON's types as TF Serving maps them to a Feature's lists: a number with a decimal point is a
# float, a whole number or a boolean an int64, a string or {"b64": ...} bytes.
def _feature_kind(element) -> str | None:
    if isinstance(element, int):  # bool is an int too
        return "int64_list"
    if isinstance(element, float):
        return "float_list"
    if isinstance(element, str) or (isinstance(element, dict) and list(element) == ["b64"]):
        return "bytes_list"
    return None


def _add_value(element, name: str, feature) -> None:
    kind = _feature_kind(element)
    if kind is None:
        raise invalid(f"Feature: {name} has element with unexpected JSON type")
    current = feature.WhichOneof("kind")
    if current not in (None, kind):
        raise invalid(f"Unexpected element type in feature: {name} expecting type: {current[:-5]}")
    if kind == "bytes_list":
        element = base64.b64decode(element["b64"]) if isinstance(element, dict) else element
        feature.bytes_list.value.append(element.encode() if isinstance(element, str) else element)
    elif kind == "int64_list":
        feature.int64_list.value.append(int(element))
    else:
        feature.float_list.value.append(element)

"""TF Serving's REST predict body: row ("instances") and columnar ("inputs") JSON <-> tensors."""

from __future__ import annotations

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

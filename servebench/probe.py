"""`servebench probe-bad-inputs`: how each endpoint treats bad input, and who answered.

Every case goes to all four endpoints, and to the diy baseline's when the stack has it. A case
is answered either by code this project controls (the TorchServe handler, the SavedModel's
in-graph checks, the diy server's checks; their messages name the expected shape) or by the
server itself before that code runs (routing, body size, decoding). The server's own answers
are reported as they are, never rewritten.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from servebench.backends.torchserve import worker_pids
from servebench.clients import TARGETS, Client, ClientError, make_client, stack_targets
from servebench.export.layout import ArtifactLayout
from servebench.models import ModelSpec
from servebench.payloads import sample_batch
from servebench.stack_record import Stack

MODEL_CODE_MARKER = "expected float32 of shape"  # in every rejection the project's code writes
TORCHSERVE_MAX_REQUEST = 6_553_500  # services/torchserve/config.properties max_request_size
UNKNOWN_MODEL = "no-such-model"
CASES = (
    "empty body",
    "malformed JSON",
    "strings instead of numbers",
    "wrong element count",
    "wrong rank or shape",
    "NaN/Inf",
    "batch above maximum",
    "body over size limit",
    "wrong content type",
    "unknown model",
    "unknown version",
)
# Cases whose input is invalid for the model; accepting one of them is a failure. The other two
# are limits of a server's own (TorchServe's max_request_size, its Content-Type handling) that TF
# Serving's documented API does not have: a valid tensor there is rightly accepted.
MUST_REJECT = set(CASES) - {"wrong content type", "body over size limit"}


@dataclass
class ProbeResult:
    model: str
    case: str
    target: str
    status: str  # "200", "HTTP 400", or a gRPC code name
    answered_by: str  # "model code", "server", or "accepted"
    message: str
    ok_after: bool  # a valid request through the same endpoint succeeded right after

    @property
    def problem(self) -> str | None:
        """Why this result breaks the contract, or None."""
        if not self.ok_after:
            return "a valid request failed afterwards"
        if self.answered_by == "accepted" and self.case in MUST_REJECT:
            return "invalid input was accepted"
        rejected_well = self.status.startswith("HTTP 4") or self.status == "INVALID_ARGUMENT"
        if self.answered_by == "model code" and not rejected_well:
            return "the model code's rejection did not arrive as 4xx / INVALID_ARGUMENT"
        return None


@dataclass(frozen=True)
class Inputs:
    """The bad payloads for one model, as arrays; each endpoint encodes them its own way."""

    spec: ModelSpec
    max_batch: int

    @property
    def good(self) -> np.ndarray:
        return sample_batch(self.spec, 1)

    @property
    def short_row(self) -> np.ndarray:
        return np.zeros((1, *self.spec.input_shape[:-1], self.spec.input_shape[-1] - 1), "<f4")

    @property
    def wrong_shape(self) -> np.ndarray:
        """An NHWC image for an NCHW model; a [2, n/2] matrix for a vector model."""
        shape = self.spec.input_shape
        if len(shape) == 1:
            return np.zeros((1, 2, shape[0] // 2), "<f4")
        return np.zeros((1, *shape[1:], shape[0]), "<f4")

    @property
    def non_finite(self) -> np.ndarray:
        batch = sample_batch(self.spec, 2)
        batch[0].flat[3], batch[1].flat[5] = math.nan, math.inf
        return batch

    @property
    def too_many(self) -> np.ndarray:
        return sample_batch(self.spec, self.max_batch + 1)

    @property
    def oversized(self) -> np.ndarray:
        rows = TORCHSERVE_MAX_REQUEST // (4 * self.spec.input_size) + 1
        return np.zeros((rows, *self.spec.input_shape), "<f4")


def probe(stack: dict, spec: ModelSpec) -> list[ProbeResult]:
    """Every case against every endpoint; then checks that TorchServe's workers survived."""
    manifest = json.loads(ArtifactLayout(Stack(stack).artifacts).manifest(spec.name).read_text())
    inputs = Inputs(spec, manifest["max_batch"])
    results = []
    for target in stack_targets(stack):
        with make_client(target, stack, spec) as client:
            senders = SENDERS[target](client, inputs)
            for case in CASES:
                results.append(_run_case(spec, case, target, client, senders[case], inputs))
    return results


def torchserve_workers(stack: dict, spec: ModelSpec) -> list[int]:
    return worker_pids(stack["backends"]["torchserve"]["endpoints"]["management"], spec.name)


def _run_case(spec, case, target, client: Client, send: Callable, inputs: Inputs) -> ProbeResult:
    try:
        send()
        status, message, answered_by = "200", "", "accepted"
    except ClientError as exc:
        status, message = exc.status, exc.message
        answered_by = "model code" if MODEL_CODE_MARKER in message else "server"
    try:
        client.predict(inputs.good)
        ok_after = True
    except ClientError:
        ok_after = False
    return ProbeResult(spec.name, case, target, status, answered_by, message[:300], ok_after)


def _torchserve_rest(client, inputs: Inputs) -> dict[str, Callable]:
    raw, js = "application/octet-stream", "application/json"

    def as_json(array) -> bytes:
        return json.dumps({"inputs": array.tolist()}).encode()

    return {
        "empty body": lambda: client.send(b"", raw),
        "malformed JSON": lambda: client.send(b'{"inputs": [1.0, 2.0', js),
        "strings instead of numbers": lambda: client.send(_strings_json(inputs, "inputs"), js),
        "wrong element count": lambda: client.send(
            np.zeros(inputs.spec.input_size + 1, "<f4").tobytes(), raw
        ),
        "wrong rank or shape": lambda: client.send(as_json(inputs.wrong_shape), js),
        "NaN/Inf": lambda: client.send(inputs.non_finite.tobytes(), raw),
        "batch above maximum": lambda: client.send(inputs.too_many.tobytes(), raw),
        "body over size limit": lambda: client.send(inputs.oversized.tobytes(), raw),
        "wrong content type": lambda: client.send(as_json(inputs.good), "text/plain"),
        "unknown model": lambda: client.send(inputs.good.tobytes(), raw, model=UNKNOWN_MODEL),
        "unknown version": lambda: client.send(inputs.good.tobytes(), raw, version="9.9"),
    }


def _torchserve_grpc(client, inputs: Inputs) -> dict[str, Callable]:
    def send(inputs_map: dict, **spec) -> bytes:
        return client.send(client.request(inputs_map, **spec))

    def as_json(array) -> bytes:
        return json.dumps({"inputs": array.tolist()}).encode()

    good = inputs.good.tobytes()
    return {
        "empty body": lambda: send({"data": b""}),
        "malformed JSON": lambda: send({"json": b'{"inputs": [1.0, 2.0'}),
        "strings instead of numbers": lambda: send({"json": _strings_json(inputs, "inputs")}),
        "wrong element count": lambda: send(
            {"data": np.zeros(inputs.spec.input_size + 1, "<f4").tobytes()}
        ),
        "wrong rank or shape": lambda: send({"json": as_json(inputs.wrong_shape)}),
        "NaN/Inf": lambda: send({"data": inputs.non_finite.tobytes()}),
        "batch above maximum": lambda: send({"data": inputs.too_many.tobytes()}),
        "body over size limit": lambda: send({"data": inputs.oversized.tobytes()}),
        # gRPC has no content type: JSON text sent as the raw-bytes input is the same mistake
        "wrong content type": lambda: send({"data": as_json(inputs.good)}),
        "unknown model": lambda: send({"data": good}, model=UNKNOWN_MODEL),
        "unknown version": lambda: send({"data": good}, version="9.9"),
    }


def _tfserving_rest(client, inputs: Inputs) -> dict[str, Callable]:
    def send(body: bytes, **options):
        return client.send(body, **options)

    return {
        "empty body": lambda: send(b""),
        "malformed JSON": lambda: send(b'{"instances": [1.0, 2.0'),
        "strings instead of numbers": lambda: send(_strings_json(inputs, "instances")),
        "wrong element count": lambda: send(client.encode(inputs.short_row)),
        "wrong rank or shape": lambda: send(client.encode(inputs.wrong_shape)),
        "NaN/Inf": lambda: send(client.encode(inputs.non_finite)),
        "batch above maximum": lambda: send(client.encode(inputs.too_many)),
        "body over size limit": lambda: send(client.encode(inputs.oversized)),
        # TF Serving ignores Content-Type and parses JSON (its documented API)
        "wrong content type": lambda: send(client.encode(inputs.good), content_type="text/plain"),
        "unknown model": lambda: send(client.encode(inputs.good), model=UNKNOWN_MODEL),
        "unknown version": lambda: send(client.encode(inputs.good), version="9"),
    }


def _tfserving_grpc(client, inputs: Inputs) -> dict[str, Callable]:
    from servebench.clients.tfserving_grpc import tensor_proto
    from servebench.generated import tfserving_wire_pb2 as wire

    name = inputs.spec.input_name

    def send(array=None, proto=None, **spec):
        tensor = proto if proto is not None else tensor_proto(np.ascontiguousarray(array, "<f4"))
        return client.send(client.request({name: tensor}, **spec))

    def corrupt():
        proto = tensor_proto(inputs.good)
        proto.tensor_content = proto.tensor_content[:-3]  # bytes that do not fill the shape
        return proto

    def strings():
        proto = tensor_proto(np.zeros(0, "<f4"), dtype=wire.DT_STRING)
        proto.tensor_shape.CopyFrom(tensor_proto(inputs.good).tensor_shape)
        proto.string_val.extend([b"a"] * inputs.spec.input_size)
        return proto

    return {
        "empty body": lambda: client.send(client.request({})),
        "malformed JSON": lambda: send(proto=corrupt()),  # gRPC's malformed payload
        "strings instead of numbers": lambda: send(proto=strings()),
        "wrong element count": lambda: send(inputs.short_row),
        "wrong rank or shape": lambda: send(inputs.wrong_shape),
        "NaN/Inf": lambda: send(inputs.non_finite),
        "batch above maximum": lambda: send(inputs.too_many),
        "body over size limit": lambda: send(inputs.oversized),
        "wrong content type": lambda: send(
            proto=tensor_proto(inputs.good.astype(np.float64), dtype=wire.DT_DOUBLE)
        ),
        "unknown model": lambda: send(inputs.good, model=UNKNOWN_MODEL),
        "unknown version": lambda: send(inputs.good, version=9),
    }


def _strings_json(inputs: Inputs, key: str) -> bytes:
    return json.dumps({key: np.full(inputs.good.shape, "a", dtype=object).tolist()}).encode()


SENDERS = {
    "torchserve-rest": _torchserve_rest,
    "torchserve-grpc": _torchserve_grpc,
    "tfserving-rest": _tfserving_rest,
    "tfserving-grpc": _tfserving_grpc,
    "diy-rest": _torchserve_rest,  # the diy server speaks TorchServe's REST wire format
}


def format_matrix(results: list[ProbeResult]) -> str:
    """Case x endpoint: status and who answered, then each distinct message once."""
    width = max(len(case) for case in CASES)
    targets = [*TARGETS, *sorted({r.target for r in results} - set(TARGETS))]
    lines = [f"{'case':<{width}}  " + "  ".join(f"{target:<30}" for target in targets)]
    by_key = {(r.case, r.target): r for r in results}
    for case in CASES:
        cells = []
        for target in targets:
            result = by_key.get((case, target))
            cell = "-" if result is None else f"{result.status} ({result.answered_by})"
            if result is not None and result.problem:
                cell += " !"
            cells.append(f"{cell:<30}")
        lines.append(f"{case:<{width}}  " + "  ".join(cells))
    return "\n".join(lines)


def as_records(results: list[ProbeResult]) -> list[dict]:
    return [{**asdict(result), "problem": result.problem} for result in results]

"""GetModelStatus and GetModelMetadata responses, shared by the REST and gRPC front ends."""

from __future__ import annotations

from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2

from servebench.backends.tfserving_emulator.servables import Servable

SIGNATURE_DEF_FIELD = "signature_def"


def model_status_response(servables: list[Servable]) -> get_model_status_pb2.GetModelStatusResponse:
    response = get_model_status_pb2.GetModelStatusResponse()
    for servable in servables:
        status = response.model_version_status.add()
        status.version = servable.version
        status.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
        status.status.error_code = 0
    return response


def metadata_response(servable: Servable) -> get_model_metadata_pb2.GetModelMetadataResponse:
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = servable.name
    response.model_spec.version.value = servable.version
    signatures = get_model_metadata_pb2.SignatureDefMap()
    for key, signature in servable.signature_defs.items():
        signatures.signature_def[key].CopyFrom(signature)
    response.metadata[SIGNATURE_DEF_FIELD].Pack(signatures)
    return response


def metadata_json(servable: Servable) -> dict:
    """GetModelMetadata over REST in TF Serving's layout: the SignatureDefMap printed as itself
    under metadata.signature_def, with no "@type" (TF Serving unpacks the Any before printing),
    fields that are unset printed too, and the protos' own field names."""
    response = metadata_response(servable)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    response.metadata[SIGNATURE_DEF_FIELD].Unpack(signatures)
    return {
        "model_spec": _as_json(response.model_spec),
        "metadata": {SIGNATURE_DEF_FIELD: _as_json(signatures)},
    }


def _as_json(message) -> dict:
    return json_format.MessageToDict(
        message, always_print_fields_with_no_presence=True, preserving_proto_field_name=True
    )

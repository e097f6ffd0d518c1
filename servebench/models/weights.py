"""Weights for the reference models: seeded defaults, a user's state_dict, and a content hash."""

from __future__ import annotations

import hashlib
import pickle
import zipfile
from pathlib import Path

import numpy as np
import torch

from servebench.errors import UsageError, first_line
from servebench.models import ModelSpec
from servebench.models.custom import build_module

StateDict = dict[str, torch.Tensor]


def seeded_state(spec: ModelSpec, seed: int) -> StateDict:
    """Deterministic weights for ``spec``: torch's default init, then random BatchNorm state.

    BatchNorm's defaults (mean 0, var 1, scale 1, shift 0) make it the identity at inference,
    and a twin that got BatchNorm wrong would still pass parity; random statistics close that gap.
    """
    torch.manual_seed(seed)
    model = build_module(spec)
    generator = torch.Generator().manual_seed(seed + 1)
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            size = module.num_features
            module.weight.data = 0.5 + torch.rand(size, generator=generator)
            module.bias.data = 0.1 * torch.randn(size, generator=generator)
            module.running_mean = 0.1 * torch.randn(size, generator=generator)
            module.running_var = 0.5 + torch.rand(size, generator=generator)
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


def load_state(spec: ModelSpec, path: Path) -> StateDict:
    """A user's ``state_dict`` for ``spec``'s architecture; any mismatch is a UsageError."""
    state = _read_state_file(path)
    expected = build_module(spec).state_dict()
    problems = _mismatches(expected, state)
    if problems:
        source = (
            f"its class {spec.class_name}"
            if spec.definition
            else f"servebench's {spec.name} or torchvision's equivalent"
        )
        raise UsageError(
            f"{path} does not fit the {spec.name} architecture ({'; '.join(problems)}); "
            f"pass a state_dict saved from {source}"
        )
    return {key: state[key].detach().clone() for key in expected}


def _read_state_file(path: Path) -> StateDict:
    if not path.is_file():
        raise UsageError(f"weights file {path} does not exist; pass a saved PyTorch state_dict")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        if not _written_by_torch_save(path):
            raise UsageError(
                f"cannot read {path} as a PyTorch state_dict (it is not a file that torch.save "
                "wrote); save one with torch.save(model.state_dict(), path)"
            ) from None
        raise UsageError(
            f"{path} holds pickled Python objects, not only tensors (a whole nn.Module?), which "
            "servebench does not unpickle; save model.state_dict() with torch.save instead"
        ) from None
    except Exception as exc:  # noqa: BLE001 (a text file, say, fails in many different ways)
        # torch's own messages say something for a damaged file; for a file that is no torch
        # file at all, the unpickler fails with bare KeyErrors and the like that say nothing.
        informative = isinstance(exc, (RuntimeError, ValueError, EOFError, zipfile.BadZipFile))
        reason = first_line(exc) if informative else "it is not a file that torch.save wrote"
        raise UsageError(
            f"cannot read {path} as a PyTorch state_dict ({reason}); "
            "save one with torch.save(model.state_dict(), path)"
        ) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UsageError(
            f"{path} holds a {type(state).__name__}, not a state_dict of tensors; "
            "save one with torch.save(model.state_dict(), path)"
        )
    return state


def _written_by_torch_save(path: Path) -> bool:
    """torch.save writes a zip, or (legacy format) a pickle, whose first byte is PROTO."""
    with path.open("rb") as file:
        return zipfile.is_zipfile(file) or file.read(1) == pickle.PROTO


def _mismatches(expected: StateDict, given: StateDict, shown: int = 5) -> list[str]:
    missing = [key for key in expected if key not in given]
    unexpected = [key for key in given if key not in expected]
    wrong_shape = [
        f"{key} is {list(given[key].shape)}, expected {list(tensor.shape)}"
        for key, tensor in expected.items()
        if key in given and given[key].shape != tensor.shape
    ]
    problems = []
    for label, items in (
        ("missing keys", missing),
        ("unexpected keys", unexpected),
        ("wrong shapes", wrong_shape),
    ):
        if items:
            more = f" and {len(items) - shown} more" if len(items) > shown else ""
            problems.append(f"{label}: {', '.join(items[:shown])}{more}")
    return problems


def state_sha256(state: StateDict) -> str:
    """A hash of the weights' content (names, dtypes, shapes, values), not of any file format."""
    digest = hashlib.sha256()
    for key in sorted(state):
        array = state[key].detach().cpu().contiguous().numpy()
        digest.update(f"{key}|{array.dtype.str}|{array.shape}\n".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def to_numpy(state: StateDict) -> dict[str, np.ndarray]:
    return {key: value.detach().cpu().numpy() for key, value in state.items()}

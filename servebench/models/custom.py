"""A user's own PyTorch model (`export --model-file`): imported, checked, and built like the
reference models, so every later step treats it the same way."""

from __future__ import annotations

import importlib.util
import inspect
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import torch

from servebench.errors import UsageError, first_line
from servebench.models import (
    CUSTOM_SLO_MS,
    MODEL_NAME,
    MODELS,
    ModelSpec,
    image_python,
    torch_defs,
    write_custom_spec,
)


def build_module(spec: ModelSpec) -> torch.nn.Module:
    """An untrained instance of ``spec``'s architecture, in eval mode."""
    if spec.definition is None:
        return torch_defs.build(spec.name)
    definitions = _import_file(spec.definition)
    return getattr(definitions, spec.class_name)().eval()


def describe_model_file(
    model_file: Path, class_name: str | None, input_shape: tuple[int, ...], name: str, atol: float
) -> ModelSpec:
    """The spec of the model class in ``model_file``; any problem is a one-line UsageError."""
    if not MODEL_NAME.fullmatch(name) or name in MODELS or name == "all":
        raise UsageError(
            f"{name!r} cannot name a model: use lower-case letters, digits, - and _, starting "
            f"with a letter, and not {', '.join([*MODELS, 'all'])}; pass --model NAME"
        )
    definitions = _import_user_file(model_file)
    found = image_python.problem(model_file)  # after the import, which names a real error
    if found:
        raise UsageError(
            f"{found}: TorchServe's official image runs the .mar's Python files on Python "
            f"{'.'.join(map(str, image_python.IMAGE_PYTHON))}; write the model for it"
        )
    chosen = _model_class(definitions, class_name, model_file)
    try:
        module = chosen().eval()
    except Exception as exc:  # noqa: BLE001 (the user's constructor can raise anything)
        raise UsageError(
            f"{chosen.__name__}() failed ({first_line(exc)}); servebench builds the class "
            "without arguments, so give every parameter a default"
        ) from None
    spec = ModelSpec(name, input_shape, num_outputs=0, slo_ms=CUSTOM_SLO_MS,
                     definition=model_file, class_name=chosen.__name__, atol=atol)  # fmt: skip
    return replace(spec, num_outputs=_output_width(module, spec))


def register(spec: ModelSpec, artifacts: Path) -> ModelSpec:
    """Copy the definition into the artifacts and record the spec there; return the spec that
    points at the copy, which is what the .mar carries and later steps import."""
    folder = artifacts / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / spec.definition.name
    if spec.definition.resolve() != copy.resolve():
        shutil.copyfile(spec.definition, copy)
    registered = replace(spec, definition=copy)
    write_custom_spec(artifacts, registered)
    return registered


def _import_user_file(path: Path) -> ModuleType:
    if path.suffix != ".py" or not path.is_file():
        raise UsageError(f"{path} is not a Python file; pass the .py file that defines the model")
    try:
        return _import_file(path)
    except Exception as exc:  # noqa: BLE001 (a user's file can fail to import in any way)
        raise UsageError(f"{path} does not import: {first_line(exc)}") from None


def _import_file(path: Path) -> ModuleType:
    name = f"servebench_model_{path.stem}"
    loader_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    try:
        loader_spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _model_class(definitions: ModuleType, class_name: str | None, path: Path) -> type:
    defined = {
        name: value
        for name, value in vars(definitions).items()
        if inspect.isclass(value) and value.__module__ == definitions.__name__
    }
    modules = sorted(name for name, value in defined.items() if issubclass(value, torch.nn.Module))
    if class_name is None:
        if len(modules) != 1:
            found = ", ".join(modules) or "none"
            raise UsageError(
                f"{path} defines {len(modules)} torch.nn.Module classes ({found}); "
                "name the model's with --class"
            )
        return defined[modules[0]]
    if class_name not in defined:
        raise UsageError(f"{path} defines no class {class_name!r}; classes there: "
                         f"{', '.join(sorted(defined)) or 'none'}")  # fmt: skip
    if class_name not in modules:
        raise UsageError(f"{class_name} in {path} is not a torch.nn.Module; pass the model's class")
    return defined[class_name]


def _output_width(module: torch.nn.Module, spec: ModelSpec) -> int:
    shape = ",".join(str(dim) for dim in spec.input_shape)
    try:
        with torch.inference_mode():
            output = module(torch.zeros(2, *spec.input_shape))
    except Exception as exc:  # noqa: BLE001 (a shape mismatch surfaces as many error types)
        raise UsageError(
            f"{spec.class_name} does not accept input of shape [N,{shape}] "
            f"({first_line(exc)}); pass one sample's shape with --input-shape"
        ) from None
    if not isinstance(output, torch.Tensor) or output.dim() != 2 or output.shape[0] != 2:
        got = list(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise UsageError(
            f"{spec.class_name} returned {got} for a batch of 2; servebench serves models "
            "that return one tensor of shape [N, outputs]"
        )
    return int(output.shape[1])

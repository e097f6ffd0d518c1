"""Load every .mar of an artifacts folder with TorchServe's own model loader, under whatever
torch this Python has, and write the handler's outputs for fixed inputs to a .npz.

Shows that the archive loads under another torch than the one that wrote it (the TorchServe
image has torch 2.4): run it in a venv with that torch, and in servebench's venv, and compare.

    python scripts/mar_outputs.py ARTIFACTS OUT.npz [--compare OTHER.npz]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from servebench.export.torchserve import load_mar  # noqa: E402
from servebench.models import MODELS  # noqa: E402
from servebench.payloads import sample_batch  # noqa: E402

BATCH = 4


def handler_outputs(artifacts: Path) -> dict[str, np.ndarray]:
    outputs = {"torch_version": np.array(torch.__version__)}
    for mar in sorted((artifacts / "torchserve").glob("*.mar")):
        spec = MODELS[mar.stem]
        with tempfile.TemporaryDirectory() as workdir:
            outputs[spec.name] = load_mar(mar, Path(workdir))(sample_batch(spec, BATCH))
    return outputs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifacts", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--compare", type=Path, help="outputs written under another torch")
    args = parser.parse_args()
    outputs = handler_outputs(args.artifacts)
    np.savez(args.out, **outputs)
    print(f"torch {torch.__version__}, Python {sys.version.split()[0]}: loaded", end=" ")
    print(", ".join(name for name in outputs if name != "torch_version"))
    if args.compare is None:
        return 0
    other = np.load(args.compare)
    worst = 0.0
    for name, values in outputs.items():
        if name == "torch_version":
            continue
        difference = float(np.max(np.abs(values - other[name])))
        worst = max(worst, difference)
        print(f"{name}: max |torch {torch.__version__} - torch {other['torch_version']}| = "
              f"{difference:.3g}")  # fmt: skip
    return 0 if worst < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())

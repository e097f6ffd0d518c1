"""Container healthcheck: healthy only when every model's workers are READY (TorchServe's
/ping says Healthy before models load). Python 3.9, standard library only."""

import json
import os
import sys
import urllib.request

MANAGEMENT = os.environ.get("TS_MANAGEMENT_URL", "http://127.0.0.1:8081")
MODELS = os.environ.get("SERVEBENCH_MODELS", "resnet18,mlp").split(",")


def ready(model: str) -> bool:
    with urllib.request.urlopen(f"{MANAGEMENT}/models/{model}", timeout=3) as reply:
        workers = [w for version in json.load(reply) for w in version.get("workers", [])]
    return bool(workers) and all(w.get("status") == "READY" for w in workers)


if __name__ == "__main__":
    try:
        sys.exit(0 if all(ready(model) for model in MODELS) else 1)
    except OSError:
        sys.exit(1)

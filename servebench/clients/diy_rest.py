"""The diy baseline's REST API, which is TorchServe's REST wire format (raw float32 by default,
JSON as an option) on the diy server's own address."""

from __future__ import annotations

from servebench.clients.torchserve_rest import TorchServeRestClient


class DiyRestClient(TorchServeRestClient):
    target = "diy-rest"

"""Asking a server's HTTP API how it is: a JSON answer, or None while it cannot say."""

from __future__ import annotations

from typing import Any

import requests


def get_json(url: str, timeout: float = 2.0) -> Any | None:
    """The JSON body of a 200 reply to GET ``url``; None when the server does not answer, does
    not answer 200, or answers something other than JSON (starting, restarting, gone)."""
    try:
        reply = requests.get(url, timeout=timeout)
    except requests.RequestException:
        return None
    if reply.status_code != 200:
        return None
    try:
        return reply.json()
    except ValueError:
        return None

"""What the two REST clients share: a pooled HTTP session and error decoding."""

from __future__ import annotations

import requests

from servebench.clients.base import ClientError


class RestSession:
    def __init__(self, timeout: float) -> None:
        self.session = requests.Session()
        self.timeout = timeout

    def request(self, method: str, url: str, **kwargs) -> requests.Response:
        try:
            reply = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise ClientError("CONNECTION", f"{method} {url}: {exc}") from None
        if reply.status_code != 200:
            raise ClientError(f"HTTP {reply.status_code}", error_message(reply))
        return reply

    def close(self) -> None:
        self.session.close()


def error_message(reply: requests.Response) -> str:
    """The server's own words: TorchServe's ``message`` or TF Serving's ``error``."""
    try:
        body = reply.json()
    except ValueError:
        return reply.text.strip()[:500] or reply.reason
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)
    return str(body)

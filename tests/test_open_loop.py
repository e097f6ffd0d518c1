"""The open loop keeps its slowest requests: each belongs to the window it was scheduled in, and
one still unanswered when the drain ends is recorded as a timeout, not dropped."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from servebench.bench.locust_run import LocustJob, run_locust
from servebench.request_log import RequestLog

SERVICE_S = 1.5  # every reply takes this long
DURATION_S = 3.0
DRAIN_S = 0.5
RATE = 10.0


class _SlowHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(SERVICE_S)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", "40")
        self.end_headers()
        self.wfile.write(bytes(40))  # an mlp reply: ten float32 zeros

    def log_message(self, *_) -> None:
        pass


@pytest.fixture
def slow_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_requests_in_flight_at_the_end_are_timeouts_in_their_scheduled_window(
    slow_server, tmp_path
):
    stack = {"backends": {"torchserve": {
        "implementation": "slow test endpoint", "real": True,
        "endpoints": {"rest": slow_server, "grpc": "127.0.0.1:9"},
    }}}  # fmt: skip
    stack_file = tmp_path / "stack.json"
    stack_file.write_text(json.dumps(stack))
    job = LocustJob(
        stack_file=stack_file, scenario="poisson", model="mlp", target="torchserve-rest",
        duration_s=DURATION_S, users=1, rate=RATE,
        options={"metrics_dir": str(tmp_path / "loadgen"), "drain": DRAIN_S},
    )  # fmt: skip
    run = run_locust(job, tmp_path / "run", None, None, "slow endpoint")
    log = RequestLog.read(tmp_path / "run")

    failures = [kind for kind, ok in zip(log.kinds, log.success, strict=True) if not ok]
    assert failures and set(failures) == {"timeout"}, failures
    timed_out = log.at[~log.success]
    # Only a request scheduled too late to be answered within the drain times out.
    assert timed_out.min() > run.test_start + DURATION_S + DRAIN_S - SERVICE_S - 0.3
    # Every request scheduled in the schedule counts in its window, answered after it or not.
    figures = log.window(run.test_start, run.test_start + DURATION_S + 0.01)
    assert figures["requests"] == len(log) >= 15
    assert figures["errors"] == {"timeout": len(failures)}
    assert figures["latency_ms"]["p50"] >= SERVICE_S * 1000
    # Answers that arrived after the window closed still count in it.
    assert (log.end[log.success] > run.test_start + DURATION_S).any()

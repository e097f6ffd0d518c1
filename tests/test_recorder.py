"""The request recorder counts each request under the model it was sent to."""

import csv

import requests

from servebench.load.recorder import RequestRecorder


def test_a_model_picked_after_start_is_what_the_exporter_labels(tmp_path):
    # Started for mlp, as a Locust worker is; the web UI then switches the users to resnet18.
    recorder = RequestRecorder("mlp", ["torchserve-rest"], tmp_path, None)
    recorder.on_request("REST", "torchserve-rest", 12.0, 100, context={"model": "resnet18"})
    recorder.close()
    exposed = requests.get(f"http://127.0.0.1:{recorder.port}/metrics", timeout=5).text
    counted = [
        line
        for line in exposed.splitlines()
        if line.startswith("servebench_client_requests_total{")
    ]
    assert any('model="resnet18"' in line and line.endswith(" 1.0") for line in counted), counted
    assert not any('model="mlp"' in line and not line.endswith(" 0.0") for line in counted)
    (log,) = tmp_path.glob("requests-*.csv")
    rows = list(csv.DictReader(log.open()))
    assert [row["model"] for row in rows] == ["resnet18"]

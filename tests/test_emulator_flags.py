"""The emulator takes tensorflow_model_server's command line: the flags it implements, the
upstream entrypoint's --model_name/--model_base_path, and a refusal for the rest."""

import shutil
import subprocess
import sys
import time

import pytest
import requests

from servebench.backends.process import free_port

EMULATOR = [sys.executable, "-m", "servebench.backends.tfserving_emulator"]


def run_emulator(*flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([*EMULATOR, *flags], capture_output=True, text=True, timeout=120)


def test_version_names_the_emulator_and_never_the_model_server():
    result = run_emulator("--version")
    assert result.returncode == 0
    assert "emulator" in result.stdout and "NOT TensorFlow Serving" in result.stdout
    # servebench recognises a real server by this; the emulator must never print it.
    assert "TensorFlow ModelServer:" not in result.stdout


@pytest.mark.parametrize(
    "flag",
    [
        "--enable_model_warmup=true",
        "--ssl_config_file=/x",
        "--enable_batching",
        "--prefer_tflite_model=true",  # TFLite is out of scope; false is accepted
        "--per_process_gpu_memory_fraction=0.5",
        "--use_tflite_model=true",
    ],
)
def test_a_flag_it_does_not_implement_is_refused_in_one_line(flag, tmp_path):
    result = run_emulator(f"--model_base_path={tmp_path}", flag)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not implement" in lines[0], result.stderr
    assert flag.split("=")[0] in lines[0]


def wait_for(condition, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except requests.RequestException:
            pass
        time.sleep(0.3)
    return False


def versions(rest: str) -> list[tuple[str, str]]:
    reply = requests.get(f"{rest}/v1/models/mlp", timeout=5)
    if reply.status_code == 404:
        return []
    return [(v["version"], v["state"]) for v in reply.json()["model_version_status"]]


def test_model_folders_are_watched_as_tf_serving_watches_them(artifacts, tmp_path):
    """Newest version served, older ones unloaded, a vanished model unloaded: what makes
    rewriting a live version folder visible, as it is with the real server."""
    base = tmp_path / "mlp"
    shutil.copytree(artifacts.savedmodel("mlp"), base / "1")
    rest_port = free_port()
    rest = f"http://127.0.0.1:{rest_port}"
    process = subprocess.Popen(
        [*EMULATOR, f"--port={free_port()}", f"--rest_api_port={rest_port}",
         "--model_name=mlp", f"--model_base_path={base}", "--file_system_poll_wait_seconds=1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert wait_for(lambda: versions(rest) == [("1", "AVAILABLE")])
        shutil.copytree(base / "1", base / "2")
        assert wait_for(lambda: versions(rest) == [("2", "AVAILABLE")])
        shutil.rmtree(base / "1")
        shutil.rmtree(base / "2")
        assert wait_for(lambda: versions(rest) == [])
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_pinned_version_policy_serves_that_version_only(artifacts, tmp_path):
    """The containers' config pins version 1, as TorchServe's container serves version 1's
    archive: a version 2 beside it is not loaded."""
    from servebench.backends.tfserving_emulator.servables import ServableRegistry

    base = tmp_path / "mlp"
    shutil.copytree(artifacts.savedmodel("mlp"), base / "1")
    shutil.copytree(base / "1", base / "2")
    config = tmp_path / "models.config"
    config.write_text(
        'model_config_list { config { name: "mlp" base_path: "' + str(base) + '" '
        'model_platform: "tensorflow" model_version_policy { specific { versions: 1 } } } }\n'
    )
    assert [
        s.version for s in ServableRegistry.from_config_file(config, log=str).status("mlp")
    ] == [1]
    unpinned = ServableRegistry({"mlp": base}, log=str)
    assert [s.version for s in unpinned.status("mlp")] == [2]

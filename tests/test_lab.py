"""`make lab`'s server starts, and lists notebooks/ through the Jupyter REST API."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import free_port, stop_process

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("jupyter_server")



def test_jupyter_server_lists_notebooks(tmp_path):
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", f"--port={port}",
         "--ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/contents/notebooks",
                                         headers={"Authorization": f"token {token}"})
        deadline, listing = time.monotonic() + 60, None
        while time.monotonic() < deadline and listing is None:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    listing = json.load(response)
            except OSError:
                assert server.poll() is None, "jupyter server exited"
                time.sleep(0.5)
        assert listing is not None, "jupyter server did not answer within 60 s"
        names = {entry["name"] for entry in listing["content"]}
        assert {"01_overconfidence_theory.ipynb", "02_calibration_synthetic.ipynb",
                "03_calibration_ml1m.ipynb"} <= names
        anonymous = urllib.request.Request(f"http://127.0.0.1:{port}/api/contents/notebooks")
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(anonymous, timeout=5)
    finally:
        stop_process(server)

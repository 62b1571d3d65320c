"""The README's five-minute walkthrough works as written.

Extracts the walkthrough's shell blocks from README.md, starts the platform on 127.0.0.1:8000 on a
fresh SQLite database (the embedded defaults `make run` uses), and runs them with bash.
"""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PORT = 8000


def walkthrough_script() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Five-minute walkthrough", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    assert len(blocks) >= 6, "the walkthrough lost its steps"
    return "set -euo pipefail\n" + "\n".join(blocks)


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.skipif(not port_free(PORT), reason="127.0.0.1:8000 is taken, the walkthrough needs it")
def test_readme_walkthrough_runs_as_written(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(VAR_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    server = subprocess.Popen(
        [python, "manage.py", "runserver", f"127.0.0.1:{PORT}", "--noreload"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            if not port_free(PORT):
                break
            time.sleep(0.1)
        bash_env = dict(env, PATH=f"{Path(python).parent}:{env['PATH']}")
        result = subprocess.run(["bash", "-c", walkthrough_script()], cwd=ROOT, env=bash_env, capture_output=True,
                                text=True, timeout=120)
    finally:
        server.terminate()
        server.wait(timeout=10)
    out = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
    assert '"object":"merchant"' in out
    assert re.search(r"pay_\w+ requires_capture", out)
    assert '"amount_captured":2000' in out
    assert '"object":"refund"' in out and '"amount":500' in out
    assert '"amount_refunded":500' in out
    assert '"decline_code":"insufficient_funds"' in out

"""A DEPLOY_COMMAND for the ops tests, shaped like a real one: it records the environment the harness gave
it, exports $DEPLOY_SHA from the repository the deployments come from (`git archive`: a commit that exists
only elsewhere cannot be deployed), stops the service it started last time and starts that commit's
service, with BUILD_SHA set, in the background. It does not wait: the harness waits for /api/version.

usage: python stage_deploy.py --repository DIR --state DIR --port N --settings FILE.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from io import BytesIO
from pathlib import Path

from harness.core.processes import uvicorn_command
from harness.ops.deploy import with_worker
from harness.stack.local import SERVICE_APP


def main() -> None:
    parser = argparse.ArgumentParser()
    for option in ("--repository", "--state", "--port", "--settings"):
        parser.add_argument(option, required=True)
    options = parser.parse_args()
    state, sha = Path(options.state), os.environ["DEPLOY_SHA"]
    state.mkdir(parents=True, exist_ok=True)
    with (state / "deploy-commands.jsonl").open("a") as log:
        log.write(json.dumps({"DEPLOY_SHA": sha, "DEPLOY_STAGE": os.environ.get("DEPLOY_STAGE")}) + "\n")
    build = state / "builds" / sha
    if not build.exists():
        archive = subprocess.run(["git", "archive", sha], cwd=options.repository, capture_output=True, check=True)
        with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
            tar.extractall(build, filter="data")
    stop(state)
    settings = json.loads(Path(options.settings).read_text())
    env = {**os.environ, **settings, "PYTHONPATH": str(build / "src"), "BUILD_SHA": sha}
    with (state / "service.log").open("ab") as output:
        child = subprocess.Popen(
            with_worker(uvicorn_command(SERVICE_APP, int(options.port)), build),
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (state / "service.pid").write_text(str(child.pid))


def stop(state: Path) -> None:
    """Stop the service this command started last (its process group), and wait until it is gone."""
    pid_file = state / "service.pid"
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text())
    try:
        os.killpg(pid, signal.SIGTERM)
        for _ in range(300):
            os.kill(pid, 0)  # ProcessLookupError once it is gone
            time.sleep(0.1)
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    pid_file.unlink()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--stop"]:
        stop(Path(sys.argv[2]))
    else:
        main()

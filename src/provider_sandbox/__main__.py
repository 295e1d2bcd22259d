"""`python -m provider_sandbox --host 127.0.0.1 --port 8900`: serve the sandbox with uvicorn."""

from __future__ import annotations

import argparse

import uvicorn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="provider_sandbox", description="Offline provider simulators")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    args = parser.parse_args(argv)
    # No access log: the authorize redirect and token calls carry codes in their URLs.
    uvicorn.run("provider_sandbox.app:app_from_env", factory=True, host=args.host, port=args.port, access_log=False)


if __name__ == "__main__":
    main()

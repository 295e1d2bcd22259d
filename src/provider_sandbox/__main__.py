"""`python -m provider_sandbox --host 127.0.0.1 --port 8900`: serve the sandbox with uvicorn.

`--tls-cert F --tls-key F` (or SANDBOX_TLS_CERT / SANDBOX_TLS_KEY) serve it over HTTPS, as a deployed
stage's providers must be reached.
"""

from __future__ import annotations

import argparse
import os

import uvicorn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="provider_sandbox", description="Offline provider simulators")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--tls-cert", default=os.environ.get("SANDBOX_TLS_CERT") or None, help="PEM certificate chain")
    parser.add_argument("--tls-key", default=os.environ.get("SANDBOX_TLS_KEY") or None, help="PEM private key")
    args = parser.parse_args(argv)
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together: give both to serve HTTPS, neither for HTTP")
    # No access log: the authorize redirect and token calls carry codes in their URLs.
    uvicorn.run(
        "provider_sandbox.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        access_log=False,
        ssl_certfile=args.tls_cert,
        ssl_keyfile=args.tls_key,
    )


if __name__ == "__main__":
    main()

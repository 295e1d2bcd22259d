"""How the sandbox shows a secret (token, API key, webhook secret) without revealing it."""

from __future__ import annotations

import hashlib


def fingerprint(token: str) -> str:
    """What the control API shows instead of a token: its SHA-256, comparable by the harness."""
    return hashlib.sha256(token.encode()).hexdigest()


def hint(token: str) -> str:
    """A short, log-safe prefix of a secret."""
    return token[:8] + "..." if len(token) > 8 else "***"

"""A scan of the checkout for hard-coded secrets (checklist CQ-06, "No hardcoded secrets in code").

It reads every git-tracked text file and looks for the shapes real credentials have: Stripe live
keys and webhook secrets with real-looking bodies, client secrets assigned in code, private key
blocks, AWS keys and passwords written into URLs. Test keys (`sk_test_...`), placeholders
(`whsec_...`, `user:password@`) and empty settings do not look real and are not reported.

A deliberate fixture is allowed in one of two ways, both visible in review: the marker
`secrets-scan: allow` on the line itself, or an entry in `ALLOW_LIST` (path, rule, reason) for a
file whose lines cannot carry the marker. A finding never shows the secret, only where it is.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

INLINE_ALLOW = "secrets-scan: allow"
MAX_FILE_BYTES = 2_000_000  # larger tracked files are data (lock files are smaller), not code

# Values that are obviously not secrets: documentation placeholders and local-development defaults.
_PLACEHOLDER = re.compile(
    r"^(?:\*+|x+|\.+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%\([a-z_]+\)s|\{[a-z_]*\}|"
    r"pass(?:word)?|secret|changeme|example|postgres|redis)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    # Group holding the secret's value (for the placeholder and shape checks); 0 = the whole match.
    value_group: int = 0
    needs_mixed_characters: bool = False  # letters AND digits, as generated secrets have


RULES: tuple[Rule, ...] = (
    # Stripe: live secret and restricted keys; real bodies are 24-99+ base62 characters.
    Rule("stripe-live-key", re.compile(r"\b(?:sk|rk)_live_[0-9A-Za-z]{24,}")),
    # Stripe webhook signing secrets: whsec_ + 32 base62 characters (shorter ones are placeholders).
    Rule("stripe-webhook-secret", re.compile(r"\bwhsec_[0-9A-Za-z]{24,}"), needs_mixed_characters=True),
    Rule(
        "private-key-block",
        re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----"),
    ),
    Rule("aws-access-key-id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    Rule(
        "aws-secret-access-key",
        re.compile(r"(?i)aws_secret_access_key\s*[=:]\s*['\"]?([A-Za-z0-9/+]{40})\b"),
        value_group=1,
    ),
    # OAuth client secrets (PayPal, Xero, MYOB, QuickBooks, Mautic) and API secrets assigned a literal
    # in code or config: `XERO_CLIENT_SECRET = "..."`, `client_secret: '...'`, `"apiSecret": "..."`.
    Rule(
        "client-secret-assignment",
        re.compile(
            r"(?i)[\"']?\b[a-z0-9_]*(?:client_?secret|api_?secret|secret_?key)\b[\"']?\s*[:=]\s*"
            r"(?:SecretStr\()?[\"']([^\"'\s]{20,})[\"']"
        ),
        value_group=1,
        needs_mixed_characters=True,
    ),
    # scheme://user:password@host with a password that is not a placeholder.
    Rule(
        "password-in-url",
        re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@'\"`]+:([^\s@/'\"`]+)@[^\s'\"`]+"),
        value_group=1,
    ),
)


@dataclass(frozen=True)
class Allowed:
    path: str  # relative to the repository root, as git lists it
    rule: str
    reason: str


# Deliberate fixtures that must look like secrets to test what they test.
ALLOW_LIST: tuple[Allowed, ...] = (
    Allowed("tests/harness/test_local.py", "password-in-url", "proves printed database URLs hide the password"),
)


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}"


def tracked_files(root: Path) -> list[str]:
    """The files git tracks in `root` (what a release ships), as repository-relative paths."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True)
    return [name for name in listed.stdout.decode().split("\0") if name]


def scan_text(path: str, text: str, allow_list: Iterable[Allowed] = ALLOW_LIST) -> list[Finding]:
    allowed_rules = {entry.rule for entry in allow_list if entry.path == path}
    findings = []
    for number, line in enumerate(text.splitlines(), start=1):
        if INLINE_ALLOW in line:
            continue
        for rule in RULES:
            if rule.name in allowed_rules:
                continue
            if any(_looks_real(rule, match) for match in rule.pattern.finditer(line)):
                findings.append(Finding(path, number, rule.name))
    return findings


def scan_files(root: Path, paths: Iterable[str], allow_list: Iterable[Allowed] = ALLOW_LIST) -> list[Finding]:
    entries = tuple(allow_list)
    findings: list[Finding] = []
    for relative in paths:
        file = root / relative
        if not file.is_file() or file.stat().st_size > MAX_FILE_BYTES:
            continue  # deleted in the working tree, or a data file
        content = file.read_bytes()
        if b"\0" in content:
            continue  # binary
        findings += scan_text(relative, content.decode("utf-8", errors="replace"), entries)
    return findings


def scan_repository(root: Path, allow_list: Iterable[Allowed] = ALLOW_LIST) -> list[Finding]:
    """Every suspected secret in the git-tracked files of `root`."""
    return scan_files(root, tracked_files(root), allow_list)


def _looks_real(rule: Rule, match: re.Match[str]) -> bool:
    value = match.group(rule.value_group)
    if _PLACEHOLDER.match(value):
        return False
    if rule.needs_mixed_characters:
        body = value.split("_", 1)[1] if value.startswith("whsec_") else value
        return any(c.isalpha() for c in body) and any(c.isdigit() for c in body)
    return True

"""The secrets scan finds planted credentials of every shape, spares placeholders, honours the allow-list,
and finds the project's own checkout clean."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.core.paths import PROJECT_ROOT
from harness.gates.secrets_scan import INLINE_ALLOW, Allowed, scan_repository, scan_text

# Built by concatenation so that this file itself holds no secret-shaped literal.
LIVE = "sk_" + "live_"
PLANTED = {
    "stripe-live-key": f'STRIPE_KEY = "{LIVE}51Mz8XyQabcDEFghiJKLmnoPQRstu"',
    "stripe-webhook-secret": "secret = 'whsec_" + "8f3KqZ2mVbX9tLp4RwN7yJc1HdGs6AeU'",
    "private-key-block": "-----BEGIN RSA " + "PRIVATE KEY-----",
    "aws-access-key-id": "aws_access_key_id = AKIA" + "Z7QKM3T5XW2PLR4N",
    "aws-secret-access-key": "aws_secret_access_key = " + "wJalrXUtnFEMI7K7MDENGbPxRfiCY3EXAMPLEKEY",
    "client-secret-assignment": 'PAYPAL_CLIENT_SECRET = "EKx9' + 'q2Lm7Vt4Rb8Nw3Yc6Hd1Jf5Gs0Az"',
    "password-in-url": "DATABASE_URL=postgresql://app:" + "N7q2xLw9@db.internal:5432/crm",
}


@pytest.mark.parametrize("rule", sorted(PLANTED))
def test_each_planted_secret_is_found(rule: str) -> None:
    findings = scan_text("src/app.py", f"first line\n{PLANTED[rule]}\n")
    assert [(finding.line, finding.rule) for finding in findings] == [(2, rule)]
    assert PLANTED[rule].split()[-1] not in str(findings[0])  # a finding names the place, never the value


@pytest.mark.parametrize(
    "line",
    [
        'api_key = "sk_test_sandbox_default_51Sandbox"',  # test-mode keys are not secrets
        "STRIPE_SECRET_KEY=sk_live_...",  # the checklist's placeholder
        "secret whsec_abcdefghijklmnop",  # too short to be a real signing secret
        "XERO_CLIENT_SECRET=",
        'client_secret="sandbox-xero-secret-for-tests"',  # no digits: a readable name, not a secret
        "DATABASE_URL=postgresql://user:password@host:5432/integrations",
        "redis://:${REDIS_PASSWORD}@cache:6379/0",
        "postgresql://app:***@db.example:5432/integrations",
    ],
)
def test_placeholders_and_test_values_are_not_reported(line: str) -> None:
    assert scan_text("README.md", line) == []


def test_the_inline_marker_and_the_allow_list_spare_deliberate_fixtures() -> None:
    line = PLANTED["password-in-url"]
    assert scan_text("tests/x.py", f"{line}  # {INLINE_ALLOW}: a fixture") == []
    allowed = (Allowed("tests/x.py", "password-in-url", "fixture"),)
    assert scan_text("tests/x.py", line, allowed) == []
    assert scan_text("tests/y.py", line, allowed) != [], "the allow-list names one file, not every file"


def test_a_secret_committed_to_a_repository_is_found(tmp_path: Path) -> None:
    (tmp_path / "settings.py").write_text("TIMEOUT = 5\n" + PLANTED["stripe-live-key"] + "\n")
    (tmp_path / "untracked.py").write_text(PLANTED["private-key-block"] + "\n")
    for command in (["git", "init", "-q"], ["git", "add", "settings.py"]):
        subprocess.run(command, cwd=tmp_path, check=True)
    assert [str(finding) for finding in scan_repository(tmp_path)] == ["settings.py:2: stripe-live-key"]


def test_the_project_checkout_is_clean() -> None:
    findings = scan_repository(PROJECT_ROOT)
    assert findings == [], "remove these secrets (or allow a deliberate fixture): " + "; ".join(map(str, findings))

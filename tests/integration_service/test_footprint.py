"""What the web process loads: the libraries it needs only now and then are imported when first used
(issue 16's memory target: each of these cost megabytes in every process serving the API)."""

from __future__ import annotations

import json
import subprocess
import sys

from integration_service.db import migrations

LOADED_WHEN_USED = ("alembic", "authlib", "redis")


def test_the_web_app_loads_alembic_authlib_and_redis_only_when_used() -> None:
    probe = (
        "import json, sys; import integration_service.app; "
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(LOADED_WHEN_USED)!r}))))"
    )
    loaded = json.loads(
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    )
    assert loaded == []


def test_the_head_revision_read_from_the_files_is_alembics() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrations.alembic_config("postgresql://unused"))
    assert migrations.head_revision() == script.get_current_head()

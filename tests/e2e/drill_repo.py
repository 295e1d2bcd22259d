"""The drill's scratch repository: the code under test, and the commits the drill releases on top of it.

It stands in for the project's remote: the stage's deploy directory fetches from it, and the drill's
CI checkout is a clone of it. Its first commit is the code under test: the project's HEAD itself when
the working tree is clean (CI), so that the local gate's report of that commit carries; otherwise a
snapshot commit of the working tree on top of HEAD (a developer's uncommitted change is what they
want drilled).
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

from integration_service.db import migrations

IDENTITY = ("-c", "user.name=Staging drill", "-c", "user.email=drill@example.invalid")

# Appended to app.py by the "broken release" commit: the sync-log route fails, which smoke checks.
BROKEN_LOGS_ROUTE = """

# Staging drill: a release whose sync-log route is broken, so that smoke fails and it is rolled back.
_released_create_app = create_app


def create_app(settings: Settings) -> FastAPI:  # type: ignore[no-redef]
    from starlette.responses import JSONResponse

    app = _released_create_app(settings)

    @app.middleware("http")
    async def broken_logs_route(request, call_next):  # type: ignore[no-untyped-def]
        if request.url.path == "/api/integrations/logs":
            return JSONResponse({"error": "drill", "detail": "broken on purpose"}, status_code=500)
        return await call_next(request)

    return app
"""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *IDENTITY, *args], cwd=repo, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} in {repo}: {done.stderr.strip()[-800:]}")
    return done.stdout.strip()


def scratch_origin(project: Path, directory: Path) -> tuple[Path, bool]:
    """A clone of `project` whose HEAD is the code under test; whether that is the project's own HEAD."""
    origin = directory / "origin"
    subprocess.run(["git", "clone", "--quiet", str(project), str(origin)], check=True)
    changed = git(project, "status", "--porcelain", "--untracked-files=all")
    if not changed:
        return origin, True
    for path in git(project, "ls-files", "--deleted").splitlines():
        git(origin, "rm", "--quiet", "--", path)
    files = git(project, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    for path in filter(None, files.split("\0")):
        source = project / path
        if source.is_file():
            (origin / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, origin / path)
    git(origin, "add", "--all")
    git(origin, "commit", "--quiet", "-m", "Staging drill: the working tree under test")
    return origin, False


MIGRATION = '''"""staging drill: a release with a migration (it moves the revision and changes no table)

Revision ID: {revision}
Revises: {down_revision}
"""

from __future__ import annotations

from alembic import op

revision = "{revision}"
down_revision = "{down_revision}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SELECT 1")


def downgrade() -> None:
    op.execute("SELECT 1")
'''


def commit_new_migration(origin: Path) -> tuple[str, str]:
    """A commit adding a trivial migration on top of the head: (its sha, the new revision)."""
    revision = f"drill_{uuid.uuid4().hex[:8]}"
    path = origin / "src/integration_service/db/migrations/versions" / f"9000_{revision}.py"
    path.write_text(MIGRATION.format(revision=revision, down_revision=migrations.head_revision()))
    git(origin, "add", str(path))
    git(origin, "commit", "--quiet", "-m", f"Staging drill: migration {revision}")
    return git(origin, "rev-parse", "HEAD"), revision


def commit_broken_release(origin: Path) -> str:
    """A commit whose service starts but fails smoke (its sync-log route answers 500)."""
    app = origin / "src/integration_service/app.py"
    app.write_text(app.read_text() + BROKEN_LOGS_ROUTE)
    git(origin, "commit", "--quiet", "-am", "Staging drill: a release that smoke must catch")
    return git(origin, "rev-parse", "HEAD")

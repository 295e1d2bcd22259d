"""The stages the harness targets. `local` is started by the harness itself; `staging` and `production` are
deployed elsewhere (their settings: `harness.core.settings`). Light on purpose: `tasks.py` imports it for
its help texts.
"""

from __future__ import annotations

from typing import Literal, get_args

Stage = Literal["local", "staging", "production"]
STAGES: tuple[Stage, ...] = get_args(Stage)
ALL_STAGES: frozenset[Stage] = frozenset(STAGES)
LOCAL_SERVICE_PORT = 8000  # where `invoke up` serves the local stage unless told otherwise


class StageError(ValueError):
    """An unknown stage, or a stage without the configuration a task needs."""


def parse_stage(value: str) -> Stage:
    for stage in STAGES:
        if value == stage:
            return stage
    raise StageError(f"unknown stage {value!r}: choose one of {', '.join(STAGES)}")

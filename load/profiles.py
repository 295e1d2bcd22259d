"""Load profiles from `load/profiles.toml`, and the timeline each one follows (pure Python, no Locust)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROFILES_FILE = Path(__file__).with_name("profiles.toml")
KINDS = ("steady", "stress", "burst")


class ProfileError(ValueError):
    """Unknown profile name or a malformed profile; the message lists what exists."""


@dataclass(frozen=True)
class Profile:
    name: str
    kind: str
    users: int  # the most users the profile runs (each needs a token)
    spawn_rate: float
    warmup_s: float = 0.0
    steady_s: float = 0.0
    start_users: int = 0
    step_users: int = 0
    step_s: float = 0.0
    settle_s: float = 0.0
    max_s: float = 0.0
    bystanders: int = 0  # burst: of `users`, these do not sync but keep listing their integrations meanwhile
    thresholds: str = ""  # the profile's own thresholds file in load/ (else thresholds.toml, or --thresholds)
    wait_s: tuple[float, float] = (1.0, 5.0)

    @property
    def syncing_users(self) -> int:
        return self.users - self.bystanders

    def step_users_at(self, step: int) -> int:
        """Users in stress step `step` (0-based)."""
        return min(self.users, self.start_users + step * self.step_users)

    @property
    def steps(self) -> int:
        return 0 if self.kind != "stress" else 1 + -(-(self.users - self.start_users) // self.step_users)

    @property
    def expected_duration_s(self) -> float:
        if self.kind == "steady":
            return self.warmup_s + self.steady_s
        if self.kind == "stress":
            return self.steps * self.step_s
        return self.warmup_s + self.max_s


def load_profile(name: str, path: Path = PROFILES_FILE) -> Profile:
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    if name not in document:
        raise ProfileError(f"unknown load profile {name!r}; profiles: {', '.join(document)}")
    raw: dict[str, Any] = dict(document[name])
    kind = raw.pop("kind", "steady")
    if kind not in KINDS:
        raise ProfileError(f"profile {name!r}: kind must be one of {', '.join(KINDS)}")
    users = int(raw.pop("max_users", raw.pop("users", 0)))
    wait = raw.pop("wait_s", [1.0, 5.0])
    try:
        profile = Profile(name=name, kind=kind, users=users, wait_s=(float(wait[0]), float(wait[1])), **raw)
    except TypeError as error:
        raise ProfileError(f"profile {name!r}: {error}") from None
    if profile.users < 1 or profile.spawn_rate <= 0:
        raise ProfileError(f"profile {name!r}: needs users >= 1 and spawn_rate > 0")
    if not 0 <= profile.bystanders < profile.users:
        raise ProfileError(f"profile {name!r}: bystanders must be fewer than users")
    return profile


def profile_names(path: Path = PROFILES_FILE) -> list[str]:
    return list(tomllib.loads(path.read_text(encoding="utf-8")))

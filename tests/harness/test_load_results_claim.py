"""The staging load gate claims OPS-LOAD-RESULTS only for the item's own run: 100 users measured for
5 minutes, judged over all requests by the item's figures (success, average, p95, p99)."""

from __future__ import annotations

from pathlib import Path

from harness.gates.load import LOAD_DIR
from harness.gates.perf import LOAD_RESULTS, LoadGate, load_results_gap

ITEM_RUN = '[run]\nkind = "steady"\nusers = 100\nspawn_rate = 10\nwarmup_s = 35\nsteady_s = 300\n'
ITEM_FIGURES = '[overall]\nthresholds = ["fail_rate<0.005", "avg<250", "p95<800", "p99<1200"]\n'


def _files(tmp_path: Path, profile: str, thresholds: str) -> tuple[Path, Path]:
    (tmp_path / "profiles.toml").write_text(profile)
    (tmp_path / "thresholds.toml").write_text(thresholds)
    return tmp_path / "profiles.toml", tmp_path / "thresholds.toml"


def test_the_items_run_and_figures_leave_no_gap(tmp_path: Path) -> None:
    profiles, thresholds = _files(tmp_path, ITEM_RUN, ITEM_FIGURES)
    assert load_results_gap("run", thresholds, profiles) == []


def test_fewer_users_or_a_shorter_window_is_not_the_items_run(tmp_path: Path) -> None:
    for short in (ITEM_RUN.replace("users = 100", "users = 99"), ITEM_RUN.replace("steady_s = 300", "steady_s = 299")):
        profiles, thresholds = _files(tmp_path, short, ITEM_FIGURES)
        assert load_results_gap("run", thresholds, profiles), short


def test_each_missing_or_looser_figure_is_named(tmp_path: Path) -> None:
    for figure, looser in (
        ("avg<250", ""),
        ("p95<800", "p95<900"),
        ("p99<1200", "p99<=1300"),
        ("fail_rate<0.005", "fail_rate<0.01"),
    ):
        text = ITEM_FIGURES.replace(f'"{figure}", ', f'"{looser}", ' if looser else "").replace(
            f', "{figure}"', f', "{looser}"' if looser else ""
        )
        profiles, thresholds = _files(tmp_path, ITEM_RUN, text)
        gaps = load_results_gap("run", thresholds, profiles)
        assert any(figure.split("<")[0] in gap for gap in gaps), (figure, text, gaps)


def test_the_bounded_staging_profile_does_not_claim_the_item() -> None:
    assert LOAD_RESULTS not in LoadGate.for_staging(LOAD_DIR / "thresholds-load-results.toml").proves
    assert LOAD_RESULTS in LoadGate.for_staging(LOAD_DIR / "thresholds-load-results.toml", profile="full").proves
    assert LOAD_RESULTS not in LoadGate.for_staging(LOAD_DIR / "thresholds.toml", profile="full").proves  # no average

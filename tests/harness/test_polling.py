"""The one bounded polling loop (harness.core.polling)."""

from __future__ import annotations

import pytest

from harness.core.polling import wait_for


class Refused(Exception):
    pass


def test_it_returns_the_first_truthy_answer() -> None:
    answers = iter([None, 0, {}, {"status": "success"}, {"status": "later"}])
    assert wait_for("a run to end", lambda: next(answers), every_s=0) == {"status": "success"}


def test_it_gives_up_with_the_callers_error_naming_what_it_waited_for() -> None:
    with pytest.raises(Refused, match="gave up after 0 s waiting for the run to end"):
        wait_for("the run to end", lambda: None, timeout_s=0.05, every_s=0.01, failure=Refused)
    with pytest.raises(AssertionError, match="waiting for nothing"):
        wait_for("nothing", lambda: False, timeout_s=0.01, every_s=0.01)

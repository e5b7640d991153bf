"""A rollout's progress counted from tasks that could not be read is unknown: `?/N`, never `0/N`."""

from __future__ import annotations

from pilothouse.providers.model import Rollout, RolloutState
from pilothouse.widgets.render import rollout_text


def test_unknown_progress_is_shown_as_unknown_not_zero() -> None:
    rollout = Rollout(state=RolloutState.UPDATING, updated=0, total=4, updated_known=False)
    shown = rollout_text(rollout).plain
    assert "?/4" in shown and "0/4" not in shown
    assert rollout.counts == "?/4"


def test_known_progress_keeps_its_bar_and_counts() -> None:
    rollout = Rollout(state=RolloutState.UPDATING, updated=2, total=4)
    shown = rollout_text(rollout).plain
    assert "2/4" in shown and "█" in shown

"""render.layout, what the text renderers share: counted nouns, and a renderer that uses them."""
from __future__ import annotations

from bpfrewrite.kernel.guard_events import Switched
from bpfrewrite.render.guard import event_text
from bpfrewrite.render.layout import count


def test_count_is_singular_only_for_one():
    assert [count(n, "twin") for n in (0, 1, 2)] == ["0 twins", "1 twin", "2 twins"]


def test_guard_switch_line_counts_the_intervals_over_budget():
    def line(over: int) -> str:
        return event_text(Switched(1.5, 3, "p", "p", "p__fast", 1234.0, 200_000, over, "link update", 900, 5))

    assert ", 1.2 us/run over budget 200.0 us for 1 interval;" in line(1)
    assert ", 1.2 us/run over budget 200.0 us for 3 intervals;" in line(3)

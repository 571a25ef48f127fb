"""The long commands' progress: a bar with elapsed time and an estimate on a terminal, lines in a log."""

import io
import re
import time

from personalization.ops import progress as progress_module
from personalization.ops.progress import CommandProgress, clock


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_in_a_log_each_stage_is_one_line_with_the_elapsed_time_and_an_estimate(monkeypatch):
    # given: 10 s have passed when the job reports a quarter done
    out = io.StringIO()
    bar = CommandProgress(out)
    monkeypatch.setattr(bar, "elapsed", lambda: 10.0)
    # when
    bar(25, "Fitting")
    bar(25, "Fitting")  # the same stage again: no new line
    bar(50, "Fitted GBM", left=42.0)  # the job's own estimate wins
    bar(100, "Done")
    bar.close()
    # then
    assert out.getvalue().splitlines() == [
        "[ 25%] Fitting (0:10 elapsed, about 0:30 left)",
        "[ 50%] Fitted GBM (0:10 elapsed, about 0:42 left)",
        "[100%] Done (0:10 elapsed)",
    ]


def test_no_estimate_before_anything_is_done():
    out = io.StringIO()
    with CommandProgress(out) as bar:
        bar(0, "Reading")
    assert out.getvalue() == "[  0%] Reading (0:00 elapsed)\n"


def test_on_a_terminal_a_bar_shows_the_stage_and_keeps_counting_while_an_opaque_fit_runs(monkeypatch):
    monkeypatch.setattr(progress_module, "REFRESH_SECONDS", 0.05)
    out = _Terminal()
    with CommandProgress(out) as bar:
        bar(40, "Fitting the GBM", left=90.0)
        drawn = len(out.getvalue())
        time.sleep(0.3)
        assert len(out.getvalue()) > drawn, "the bar is redrawn while nothing is reported"
    text = out.getvalue()
    assert "Fitting the GBM:  40%|" in text
    assert re.search(r"0:0\d<1:(29|30)", text), text  # elapsed < the job's estimate, counting down


def test_no_progress_prints_nothing():
    out = _Terminal()
    with CommandProgress(out, enabled=False) as bar:
        bar(50, "Fitting")
    assert out.getvalue() == ""


def test_clock():
    assert [clock(5), clock(65), clock(3725)] == ["0:05", "1:05", "1:02:05"]

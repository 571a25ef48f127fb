"""Progress of a long management command: a bar with the elapsed time and an estimate of what is left.

The jobs report progress as ``(percent, stage)`` calls (the same ones the admin's model-version and
profile-build pages show). :class:`CommandProgress` is such a callable for a command:

- on a terminal, a tqdm bar ``Fitting 4 models: 42%|████▏     | 00:35<00:48`` — the estimate is tqdm's,
  from the rate so far, and the elapsed time keeps ticking while an opaque fit holds the percentage still;
- elsewhere (a log, a pipe), one line per stage: ``[ 42%] Fitting 4 models (0:35 elapsed, about 0:48 left)``;
- ``enabled=False`` (the commands' ``--no-progress``) prints nothing.

A job that knows better than "percent so far" (the forecaster, which knows what its remaining fits cost)
passes its own estimate as ``left`` seconds.
"""
from __future__ import annotations

import threading
import time
from typing import IO, Any

#: Seconds between two refreshes of the bar while nothing is reported (so the elapsed time moves).
REFRESH_SECONDS = 1.0
#: Before this share of the work is done, the plain lines give no estimate (it would be a guess).
MIN_DONE_FOR_ESTIMATE = 0.03


def clock(seconds: float) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour)."""
    seconds = max(int(round(seconds)), 0)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class CommandProgress:
    """A ``progress(percent, stage, left=None)`` callable that draws on ``stream``; use it as a context
    manager (or call :meth:`close`) so the bar ends with its line."""

    def __init__(self, stream: IO[str] | Any, *, enabled: bool = True, tty: bool | None = None) -> None:
        self.stream = stream
        self.enabled = enabled
        self.tty = bool(tty if tty is not None else getattr(stream, "isatty", lambda: False)())
        self.started = time.perf_counter()
        self._bar: Any = None
        self._stage = ""
        self._left: float | None = None
        self._left_at = self.started
        self._percent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> CommandProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def estimate_left(self, percent: int, left: float | None = None) -> float | None:
        """Seconds left: the job's own ``left`` when given, else the rate so far extrapolated."""
        if left is not None:
            return max(left, 0.0)
        done = percent / 100.0
        if done < MIN_DONE_FOR_ESTIMATE or done >= 1.0:
            return None if done < 1.0 else 0.0
        return self.elapsed() * (1.0 - done) / done

    def __call__(self, percent: int, stage: str, left: float | None = None) -> None:
        if not self.enabled:
            return
        percent = min(max(int(percent), 0), 100)
        if self.tty:
            self._draw(percent, stage, left)
            return
        if stage == self._stage and left is None:
            return  # one line per stage in a log
        self._stage = stage
        estimate = self.estimate_left(percent, left)
        tail = f", about {clock(estimate)} left" if estimate is not None and percent < 100 else ""
        self.stream.write(f"[{percent:3d}%] {stage} ({clock(self.elapsed())} elapsed{tail})\n")
        self._flush()

    def _draw(self, percent: int, stage: str, left: float | None) -> None:
        from tqdm import tqdm

        with self._lock:
            if self._bar is None:
                self._bar = tqdm(total=100, file=self.stream, bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}",
                                 dynamic_ncols=True, leave=True, mininterval=0.2)
                self._ticker = threading.Thread(target=self._tick, daemon=True, name="command-progress")
                self._ticker.start()
            self._stage, self._left, self._left_at, self._percent = stage, left, time.perf_counter(), percent
            self._bar.set_description_str(stage[:70], refresh=False)
            self._bar.n = percent
            self._bar.set_postfix_str(self._times(), refresh=False)
            self._bar.refresh()

    def _times(self) -> str:
        """``elapsed<left`` for the bar; the job's own estimate counts down from when it was reported."""
        if self._left is not None:
            estimate: float | None = max(self._left - (time.perf_counter() - self._left_at), 0.0)
        else:
            estimate = self.estimate_left(self._percent)
        return f"{clock(self.elapsed())}<{clock(estimate) if estimate is not None else '?'}"

    def _tick(self) -> None:
        while not self._stop.wait(REFRESH_SECONDS):
            with self._lock:
                if self._bar is None:
                    return
                self._bar.set_postfix_str(self._times(), refresh=False)
                self._bar.refresh()

    def _flush(self) -> None:
        flush = getattr(self.stream, "flush", None)
        if flush is not None:
            flush()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
        if self._ticker is not None:
            self._ticker.join(timeout=2)
            self._ticker = None


def command_progress(command: Any, enabled: bool = True) -> CommandProgress:
    """The progress of a management command, on its stderr (the summary stays alone on stdout)."""
    stream = command.stderr
    return CommandProgress(getattr(stream, "_out", stream), enabled=enabled)

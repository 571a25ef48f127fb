"""Writes one benchmark's section of bench/RESULTS.md, between its own markers, leaving the others."""
from __future__ import annotations

import os
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(name: str, text: str) -> Path:
    """Replace (or append) the block between ``<!-- name:start -->`` and ``<!-- name:end -->``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    current = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    block = f"{start}\n{text.rstrip()}\n{end}"
    if start in current and end in current:
        head, rest = current.split(start, 1)
        current = head + block + rest.split(end, 1)[1]
    else:
        current = current.rstrip("\n") + "\n\n" + block + "\n"
    tmp = RESULTS.with_suffix(".md.tmp")
    tmp.write_text(current)
    os.replace(tmp, RESULTS)
    return RESULTS


def publish(name: str, text: str, write: bool = True) -> None:
    """Print a benchmark's section and, with ``write``, store it in bench/RESULTS.md (see :func:`write_section`)."""
    print(text)
    if write:
        path = write_section(name, text)
        print(f"Wrote the {name} section of {path.relative_to(path.parents[1])}", flush=True)

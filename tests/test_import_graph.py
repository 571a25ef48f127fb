"""The three apps have no import circle, and the check finds one when it is planted."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.import_graph import import_cycles, import_graph

ROOT = Path(__file__).resolve().parent.parent
APPS = ("personalization", "pricing", "inventory")


def test_the_apps_have_no_import_circle() -> None:
    graph = import_graph(ROOT, APPS)

    assert "personalization.capture.services" in graph  # the graph is read from the real tree
    assert import_cycles(graph) == []


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize(
    ("files", "cycle"),
    [
        (  # a service that imports its task at module level
            {"app/__init__.py": "", "app/services.py": "from .tasks import job\n",
             "app/tasks.py": "from . import services\n"},
            ["app.services", "app.tasks"],
        ),
        (  # the same, hidden in a function (a lazy import still ties the modules together)
            {"app/__init__.py": "", "app/services.py": "def run():\n    from .tasks import job\n",
             "app/tasks.py": "from app.services import run\n"},
            ["app.services", "app.tasks"],
        ),
        (  # three modules in a ring, across subpackages
            {"app/__init__.py": "", "app/a/__init__.py": "", "app/a/x.py": "from ..b import y\n",
             "app/b/__init__.py": "", "app/b/y.py": "from app.c import z\n",
             "app/c/__init__.py": "", "app/c/z.py": "from ..a.x import thing\n"},
            ["app.a.x", "app.b.y", "app.c.z"],
        ),
    ],
)
def test_a_planted_circle_is_found(tmp_path: Path, files: dict[str, str], cycle: list[str]) -> None:
    _write(tmp_path, files)

    assert import_cycles(import_graph(tmp_path, ["app"])) == [cycle]


def test_imports_under_type_checking_do_not_count(tmp_path: Path) -> None:
    _write(tmp_path, {
        "app/__init__.py": "",
        "app/services.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .tasks import job\n",
        "app/tasks.py": "from . import services\n",
    })

    assert import_cycles(import_graph(tmp_path, ["app"])) == []

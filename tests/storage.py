"""Model storages for the fault tests: a slow disk (to kill a worker mid-write) and a full disk.

Chosen through ``SHOPSENSE_TEST_STORAGE`` (tests/settings.py) in a worker subprocess, or with
``settings.STORAGES`` in the test process. Both write real files under ``MEDIA_ROOT``.
"""
from __future__ import annotations

import errno
import os
import time
from pathlib import Path

from django.core.files.storage import FileSystemStorage


class SlowStorage(FileSystemStorage):
    """Writes the first half of a file, records its pid in ``SHOPSENSE_TEST_STORAGE_MARKER`` and
    sleeps ``SHOPSENSE_TEST_STORAGE_PAUSE`` seconds before the second half: a half-written artifact
    on disk while the writer can be killed. With ``SHOPSENSE_TEST_STORAGE_ONCE=1`` only the first
    write (while no marker exists) is slow."""

    def _save(self, name, content):
        marker = os.environ.get("SHOPSENSE_TEST_STORAGE_MARKER", "")
        once = os.environ.get("SHOPSENSE_TEST_STORAGE_ONCE") == "1"
        if not marker or (once and Path(marker).exists()):
            return super()._save(name, content)
        payload = content.read()
        path = Path(self.path(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            handle.write(payload[: len(payload) // 2])
            handle.flush()
            Path(marker).write_text(f"{os.getpid()} {name}")
            time.sleep(float(os.environ.get("SHOPSENSE_TEST_STORAGE_PAUSE", "30")))
            handle.write(payload[len(payload) // 2 :])
        return name


class FailingStorage(FileSystemStorage):
    """A disk that fails half-way through every new file with ``OSError(SHOPSENSE_TEST_STORAGE_ERRNO)``
    (default ``ENOSPC``: full; ``EROFS``: read-only; ``EACCES``: not writable), leaving the half on disk.
    Reading existing files works."""

    def _save(self, name, content):
        code = getattr(errno, os.environ.get("SHOPSENSE_TEST_STORAGE_ERRNO", "ENOSPC"))
        payload = content.read()
        path = Path(self.path(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            handle.write(payload[: len(payload) // 2])
        raise OSError(code, os.strerror(code), str(path))

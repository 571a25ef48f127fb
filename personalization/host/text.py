"""Text that every supported database can store, checked where it enters (requests, events, imports).

PostgreSQL refuses a NUL character in any text column ("text fields cannot contain NUL"), and no
database driver can encode a lone UTF-16 surrogate (``"\\ud800"``, which JSON can carry) as UTF-8; a
value holding either must be refused at the edge, never handed to an insert that would fail a whole
batch. Identifiers and short labels (session keys, recommendation ids, client event ids, search text)
have no use for any control character, so those are refused too.
"""
from __future__ import annotations

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")

UNSTORABLE_MESSAGE = "must not contain a NUL character or invalid Unicode."
CONTROL_MESSAGE = "must not contain control characters (such as NUL) or invalid Unicode."


def is_storable(text: str) -> bool:
    """Whether every supported database can store ``text`` (no NUL, no lone surrogate)."""
    return _UNSTORABLE.search(text) is None


def is_plain(text: str) -> bool:
    """Whether ``text`` is storable and holds no control character (tabs and newlines included)."""
    return _CONTROL.search(text) is None

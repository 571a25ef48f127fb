"""The warning that an old import path gives after its code moved (the re-exports at the old paths)."""
from __future__ import annotations

import warnings


def warn_moved(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that ``old`` moved to ``new`` and that the re-export at ``old`` will go away."""
    warnings.warn(
        f"{old} moved to {new}; this re-export will be removed in a future release.",
        DeprecationWarning,
        stacklevel=stacklevel,
    )

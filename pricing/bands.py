"""Price endings per band written as text in a policy: ``".99 < 100; .95 < 1000; whole"``.

Each part is ``ending < upper`` (prices below ``upper`` end in ``ending``); the last part may omit the
bound (it covers everything above). Endings: ``cents``, ``whole``, ``.x9`` or ``.NN`` (see
:mod:`pricing.ml.endings`). An empty text means whole cents.
"""

from __future__ import annotations

import math

from .ml.endings import PriceBand


def parse_price_bands(text: str) -> tuple[PriceBand, ...]:
    """The bands of ``text``; :class:`ValueError` with a readable message when it is malformed."""
    bands: list[PriceBand] = []
    parts = [part.strip() for part in (text or "").replace("\n", ";").split(";") if part.strip()]
    for index, part in enumerate(parts):
        ending, _, upper_text = (piece.strip() for piece in part.partition("<"))
        if upper_text:
            try:
                upper = float(upper_text)
            except ValueError as exc:
                raise ValueError(f"{upper_text!r} in {part!r} is not a number.") from exc
        elif index == len(parts) - 1:
            upper = math.inf
        else:
            raise ValueError(f"Only the last band may leave out its upper bound ({part!r}).")
        bands.append(PriceBand(upper=upper, ending=ending))
    uppers = [band.upper for band in bands]
    if uppers != sorted(uppers) or len(set(uppers)) != len(uppers):
        raise ValueError("Bands must be listed from the lowest upper bound to the highest.")
    return tuple(bands)

"""Closed-form and ladder price optimisation for a constant-elasticity demand curve.

For ``E[units] = A * price**e`` with ``e < -1`` and unit cost ``c`` the profit ``(p - c) * A * p**e`` is
maximal at the Lerner price ``p* = c * e / (1 + e)``. With ``S`` units of stock left for the
remaining periods the price must also be high enough that expected sales fit the stock: the run-out
price ``p_S = ref * (S / sum_t base_t) ** (1 / e)``; the optimum is the higher of the two.
The Lerner condition also holds for any other curve with ``e`` its local elasticity at the optimum,
which is why a locally fitted constant-elasticity model finds the optimum of a linear curve too.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csr_matrix

MIN_ELASTICITY_GAP = 0.05  # elasticities are capped at -1 - gap: above -1 profit grows without bound


def optimal_price(elasticity: np.ndarray | float, unit_cost: np.ndarray | float,
                  max_elasticity: float = -1.0 - MIN_ELASTICITY_GAP) -> np.ndarray:
    """The Lerner price ``c * e / (1 + e)``, with ``e`` capped at ``max_elasticity`` (< -1)."""
    e = np.minimum(np.asarray(elasticity, dtype=float), max_elasticity)
    return np.asarray(unit_cost, dtype=float) * e / (1.0 + e)


def run_out_price(elasticity: np.ndarray, reference_price: np.ndarray, stock: np.ndarray,
                  base_demand_total: np.ndarray) -> np.ndarray:
    """The price at which expected sales over the remaining periods equal ``stock``.

    ``base_demand_total`` is the expected demand summed over the remaining periods at
    ``reference_price``. Products with unlimited (``inf``) stock or no demand get 0 (no constraint).
    """
    e = np.minimum(np.asarray(elasticity, dtype=float), -MIN_ELASTICITY_GAP)
    stock = np.asarray(stock, dtype=float)
    ok = np.isfinite(stock) & (base_demand_total > 0)
    ratio = np.where(ok, np.maximum(stock, 0.5) / np.where(ok, base_demand_total, 1.0), 1.0)
    return np.where(ok, reference_price * ratio ** (1.0 / e), 0.0)


def solve_price_mix(margins: list[np.ndarray], demands: list[np.ndarray],
                    capacity: np.ndarray) -> list[np.ndarray]:
    """Thompson-sampling LP of Ferreira, Simchi-Levi & Wang (2018), for many products in one call.

    For product ``i`` with candidate prices ``k``: maximise ``sum_k margin_ik * demand_ik * x_ik`` subject to
    ``sum_k demand_ik * x_ik <= capacity_i`` (the remaining stock per remaining period; ``inf``: no
    constraint) and ``sum_k x_ik <= 1``, ``x >= 0``. The remainder ``1 - sum_k x_ik`` is the share of
    time the product is "switched off" (priced at its highest candidate). Returns ``x_i`` per product.
    Solved with :func:`scipy.optimize.linprog` (HiGHS) as one block-diagonal problem.
    """
    sizes = [len(m) for m in margins]
    total = int(sum(sizes))
    if total == 0:
        return [np.zeros(0) for _ in sizes]
    objective = -np.concatenate([m * d for m, d in zip(margins, demands, strict=True)])
    rows, cols, vals, rhs = [], [], [], []
    offset = 0
    row = 0
    for i, size in enumerate(sizes):
        idx = np.arange(offset, offset + size)
        rows += [row] * size
        cols += list(idx)
        vals += [1.0] * size
        rhs.append(1.0)
        row += 1
        if np.isfinite(capacity[i]):
            rows += [row] * size
            cols += list(idx)
            vals += list(demands[i])
            rhs.append(float(capacity[i]))
            row += 1
        offset += size
    a_ub = csr_matrix((vals, (rows, cols)), shape=(row, total))
    result = linprog(objective, A_ub=a_ub, b_ub=np.array(rhs), bounds=(0.0, 1.0), method="highs")
    if result.status != 0 or result.x is None:  # pragma: no cover - the LP is always feasible (x = 0)
        x = np.zeros(total)
    else:
        x = np.clip(result.x, 0.0, 1.0)
    out, offset = [], 0
    for size in sizes:
        out.append(x[offset:offset + size])
        offset += size
    return out

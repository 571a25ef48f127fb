"""Customer lifetime value: BG/NBD purchase counts and Gamma-Gamma spend (no Django).

- :class:`BetaGeoFitter` — the BG/NBD model of Fader, Hardie & Lee (2005), "Counting your customers
  the easy way". While alive a customer buys as a Poisson process of rate ``lambda ~ Gamma(r, alpha)``;
  after each repeat purchase they drop out with probability ``p ~ Beta(a, b)``.
- :class:`GammaGammaFitter` — the spend model of Fader, Hardie & Lee (2005), "RFM and CLV": the
  value of each purchase is ``Gamma(p, nu)`` with ``nu ~ Gamma(q, gamma)`` per customer.

Both are maximum-likelihood fits with ``scipy.optimize.minimize`` (L-BFGS-B on log parameters,
analytic gradients) over vectorised log-likelihoods. Inputs per customer, in one time unit:
``frequency`` = number of repeat purchases, ``recency`` = age at the last purchase (time between
first and last purchase), ``T`` = age at the end of the observation period.

``simulate_bgnbd`` and ``simulate_gamma_gamma`` draw data from known parameters (for tests and
benchmarks: a fit should recover what was simulated).
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1
from threadpoolctl import threadpool_limits

FloatArray = npt.NDArray[np.float64]
_LOG_BOUNDS = (-12.0, 12.0)


def _as_float(values: npt.ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def _check_weights(weights: npt.ArrayLike | None, n: int) -> FloatArray:
    if weights is None:
        return np.ones(n)
    w = _as_float(weights)
    if w.shape != (n,) or np.any(w < 0):
        raise ValueError("weights must be one non-negative number per customer.")
    return w


def _wsum(weights: FloatArray, values: FloatArray) -> float:
    # an elementwise product, not ``@``: BLAS threads make a dot of two vectors slow on busy machines
    return float(np.sum(weights * values))


def compress(*columns: npt.ArrayLike) -> tuple[list[FloatArray], FloatArray]:
    """Unique rows of the given columns and how often each occurs (the fit's ``weights``)."""
    stacked = np.column_stack([_as_float(c) for c in columns])
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return [unique[:, i] for i in range(unique.shape[1])], counts.astype(np.float64)


class _LogParamFitter:
    """Shared maximum-likelihood machinery: parameters fitted on the log scale with L-BFGS-B."""

    param_names: tuple[str, ...] = ()

    def __init__(self, penalizer: float = 0.0, max_iter: int = 500, tol: float = 1e-10):
        self.penalizer = penalizer
        self.max_iter = max_iter
        self.tol = tol

    def _minimize(self, initial_params: npt.ArrayLike, args: tuple[Any, ...], weights: FloatArray) -> Self:
        with threadpool_limits(limits=1):  # L-BFGS-B's small BLAS calls only lose time to threads
            result = minimize(
                self._objective,  # type: ignore[attr-defined]
                np.log(_as_float(initial_params)),
                args=args,
                jac=True,
                method="L-BFGS-B",
                bounds=[_LOG_BOUNDS] * len(self.param_names),
                options={"maxiter": self.max_iter, "ftol": self.tol, "gtol": 1e-8},
            )
        self.params_ = dict(zip(self.param_names, (float(v) for v in np.exp(result.x)), strict=True))
        self.log_likelihood_ = -float(result.fun)
        self.n_customers_ = float(weights.sum())
        self.converged_ = bool(result.success)
        self.n_iter_ = int(result.nit)
        return self

    @classmethod
    def from_params(cls, params: dict[str, float]) -> Self:
        """A fitted model from stored ``params_``."""
        model = cls()
        model.params_ = {name: float(params[name]) for name in cls.param_names}
        return model


class BetaGeoFitter(_LogParamFitter):
    """BG/NBD model of repeat purchasing: ``fit(frequency, recency, T) -> self``.

    Learned: ``params_`` (``r``, ``alpha``, ``a``, ``b``), ``log_likelihood_`` (mean per customer),
    ``n_customers_``, ``converged_``. ``penalizer`` adds ``penalizer * sum(params**2)`` to the
    objective (0 = plain maximum likelihood).
    """

    param_names = ("r", "alpha", "a", "b")

    # --- likelihood ---------------------------------------------------------------------------
    @staticmethod
    def log_likelihood(
        params: npt.ArrayLike, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """Log-likelihood of each customer's ``(frequency, recency, T)`` under ``(r, alpha, a, b)``."""
        r, alpha, a, b = (float(v) for v in np.asarray(params, dtype=np.float64))
        x, t_x, t = _as_float(frequency), _as_float(recency), _as_float(T)
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        a2 = betaln(a, b + x) - betaln(a, b)
        a3 = -(r + x) * np.log(alpha + t)
        a4 = np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + t_x)
        a4 = np.where(x > 0, a4, -np.inf)
        return a1 + a2 + np.logaddexp(a3, a4)

    @staticmethod
    def _objective(
        log_params: FloatArray, x: FloatArray, t_x: FloatArray, t: FloatArray, w: FloatArray, penalizer: float
    ) -> tuple[float, FloatArray]:
        r, alpha, a, b = np.exp(log_params)
        repeat = x > 0
        log_at = np.log(alpha + t)
        log_atx = np.log(alpha + t_x)
        a3 = -(r + x) * log_at
        a4 = np.where(repeat, np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * log_atx, -np.inf)
        tail = np.logaddexp(a3, a4)
        ll = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b) + tail
        w4 = np.exp(a4 - tail)  # share of the dropped-out-at-t_x branch in the last term
        w3 = 1.0 - w4
        psi_ab = digamma(a + b)
        psi_abx = digamma(a + b + x)
        d_r = digamma(r + x) - digamma(r) + np.log(alpha) - w3 * log_at - w4 * log_atx
        d_alpha = r / alpha - w3 * (r + x) / (alpha + t) - w4 * (r + x) / (alpha + t_x)
        d_a = psi_ab - psi_abx + w4 / a
        d_b = psi_ab + digamma(b + x) - digamma(b) - psi_abx - w4 / (b + np.maximum(x, 1) - 1)
        total = w.sum()
        value = -_wsum(w, ll) / total
        grad = -np.array([_wsum(w, d_r), _wsum(w, d_alpha), _wsum(w, d_a), _wsum(w, d_b)]) / total
        params = np.array([r, alpha, a, b])
        value += penalizer * float(np.sum(params * params))
        grad = grad * params + 2.0 * penalizer * params * params  # chain rule: d/d log(theta) = theta * d/d theta
        return float(value), grad

    # --- fitting ------------------------------------------------------------------------------
    def fit(
        self,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,
        weights: npt.ArrayLike | None = None,
        initial_params: npt.ArrayLike | None = None,
    ) -> BetaGeoFitter:
        """Maximum-likelihood ``(r, alpha, a, b)``; ``weights`` count repeated identical customers."""
        x, t_x, t = _as_float(frequency), _as_float(recency), _as_float(T)
        if not (x.shape == t_x.shape == t.shape) or x.ndim != 1 or x.size == 0:
            raise ValueError("frequency, recency and T must be 1-D arrays of the same, non-zero length.")
        if np.any(x < 0) or np.any(t_x < 0) or np.any(t_x > t + 1e-9) or np.any((x > 0) & (t_x <= 0)):
            raise ValueError("Need 0 <= recency <= T, and recency > 0 for customers with repeat purchases.")
        w = _check_weights(weights, x.size)
        if initial_params is None:
            # alpha sets the time scale: start it at the mean customer age so that any unit works
            initial_params = [1.0, max(float(np.average(t, weights=w)), 1e-3), 1.0, 1.0]
        return self._minimize(initial_params, (x, t_x, t, w, self.penalizer), w)

    def _params(self) -> tuple[float, float, float, float]:
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]

    # --- predictions --------------------------------------------------------------------------
    def conditional_expected_number_of_purchases_up_to_time(
        self, t: float, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """Expected purchases in the next ``t`` time units of customers with this history."""
        r, alpha, a, b = self._params()
        x, t_x, age = _as_float(frequency), _as_float(recency), _as_float(T)
        hyp_a, hyp_b, hyp_c = r + x, b + x, a + b + x - 1
        z = t / (alpha + age + t)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            ln_hyp = np.log(hyp2f1(hyp_a, hyp_b, hyp_c, z))
            # Euler's transformation when the direct series overflows
            ln_hyp_alt = np.log(hyp2f1(hyp_c - hyp_a, hyp_c - hyp_b, hyp_c, z)) + (hyp_c - hyp_a - hyp_b) * np.log1p(-z)
            ln_hyp = np.where(np.isfinite(ln_hyp), ln_hyp, ln_hyp_alt)
            first = (a + b + x - 1) / (a - 1)
            second = 1 - np.exp(ln_hyp + (r + x) * np.log((alpha + age) / (alpha + t + age)))
            log_odds_dead = np.log(a / (b + np.maximum(x, 1) - 1)) + (r + x) * np.log((alpha + age) / (alpha + t_x))
            denominator = 1 + np.where(x > 0, np.exp(log_odds_dead), 0.0)
            return np.asarray(first * second / denominator, dtype=np.float64)

    def conditional_probability_alive(
        self, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """Probability that each customer is still active at the end of the observation period."""
        r, alpha, a, b = self._params()
        x, t_x, age = _as_float(frequency), _as_float(recency), _as_float(T)
        log_odds_dead = np.log(a / (b + np.maximum(x, 1) - 1)) + (r + x) * np.log((alpha + age) / (alpha + t_x))
        return np.where(x > 0, expit(-log_odds_dead), 1.0)

    def expected_number_of_purchases_up_to_time(self, t: npt.ArrayLike) -> FloatArray:
        """Expected repeat purchases of a new customer in their first ``t`` time units."""
        r, alpha, a, b = self._params()
        t = _as_float(t)
        hyp = hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return (a + b - 1) / (a - 1) * (1 - hyp * (alpha / (alpha + t)) ** r)


class GammaGammaFitter(_LogParamFitter):
    """Gamma-Gamma model of spend per purchase: ``fit(frequency, monetary_value) -> self``.

    ``frequency`` is the number of purchases averaged in ``monetary_value`` (> 0 each). Learned:
    ``params_`` (``p``, ``q``, ``v`` — the paper's gamma), ``log_likelihood_``, ``converged_``.
    """

    param_names = ("p", "q", "v")

    @staticmethod
    def log_likelihood(params: npt.ArrayLike, frequency: npt.ArrayLike, monetary_value: npt.ArrayLike) -> FloatArray:
        """Log-likelihood of each customer's average spend ``m`` over ``x`` purchases.

        The density of the average of ``x`` purchases (a constant Jacobian term, ``log x``, is
        included so that the value is a proper log-density of ``m``).
        """
        p, q, v = (float(value) for value in np.asarray(params, dtype=np.float64))
        x, m = _as_float(frequency), _as_float(monetary_value)
        px = p * x
        return (
            gammaln(px + q)
            - gammaln(px)
            - gammaln(q)
            + q * np.log(v)
            + (px - 1) * np.log(m)
            + px * np.log(x)
            - (px + q) * np.log(x * m + v)
        )

    @staticmethod
    def _objective(
        log_params: FloatArray, x: FloatArray, m: FloatArray, w: FloatArray, penalizer: float
    ) -> tuple[float, FloatArray]:
        p, q, v = np.exp(log_params)
        px = p * x
        log_xmv = np.log(x * m + v)
        psi_pxq = digamma(px + q)
        ll = (
            gammaln(px + q)
            - gammaln(px)
            - gammaln(q)
            + q * np.log(v)
            + (px - 1) * np.log(m)
            + px * np.log(x)
            - (px + q) * log_xmv
        )
        d_p = x * (psi_pxq - digamma(px) + np.log(m) + np.log(x) - log_xmv)
        d_q = psi_pxq - digamma(q) + np.log(v) - log_xmv
        d_v = q / v - (px + q) / (x * m + v)
        total = w.sum()
        params = np.array([p, q, v])
        value = -_wsum(w, ll) / total + penalizer * float(np.sum(params * params))
        grad = -np.array([_wsum(w, d_p), _wsum(w, d_q), _wsum(w, d_v)]) / total * params
        grad += 2.0 * penalizer * params * params
        return float(value), grad

    def fit(
        self,
        frequency: npt.ArrayLike,
        monetary_value: npt.ArrayLike,
        weights: npt.ArrayLike | None = None,
        initial_params: npt.ArrayLike | None = None,
    ) -> GammaGammaFitter:
        """Maximum-likelihood ``(p, q, v)`` from customers with at least one purchase of positive value."""
        x, m = _as_float(frequency), _as_float(monetary_value)
        if x.shape != m.shape or x.ndim != 1 or x.size == 0:
            raise ValueError("frequency and monetary_value must be 1-D arrays of the same, non-zero length.")
        if np.any(x < 1) or np.any(m <= 0):
            raise ValueError("Gamma-Gamma needs frequency >= 1 and monetary_value > 0 for every customer.")
        w = _check_weights(weights, x.size)
        if initial_params is None:
            # with q = 2 the mean spend is p * v; start there whatever the currency unit
            initial_params = [1.0, 2.0, max(float(np.average(m, weights=w)), 1e-6)]
        return self._minimize(initial_params, (x, m, w, self.penalizer), w)

    def conditional_expected_average_profit(
        self, frequency: npt.ArrayLike, monetary_value: npt.ArrayLike
    ) -> FloatArray:
        """Expected value of each customer's next purchase given their ``x`` purchases averaging ``m``.

        A customer with no purchases (``x = 0``) gets the population mean ``p v / (q - 1)``.
        """
        p, q, v = self.params_["p"], self.params_["q"], self.params_["v"]
        x, m = _as_float(frequency), _as_float(monetary_value)
        m = np.where(x > 0, m, 0.0)
        return p * (v + x * m) / (p * x + q - 1)

    def population_mean_value(self) -> float:
        """Mean spend per purchase over all customers (infinite when ``q <= 1``)."""
        p, q, v = self.params_["p"], self.params_["q"], self.params_["v"]
        return float(p * v / (q - 1)) if q > 1 else float("inf")


# --- simulation from known parameters ---------------------------------------------------------
def simulate_bgnbd(
    n_customers: int,
    params: dict[str, float],
    T: npt.ArrayLike | float,
    holdout: float = 0.0,
    random_state: int | np.random.Generator | None = None,
) -> dict[str, Any]:
    """Draw repeat-purchase histories from the BG/NBD model.

    Returns ``frequency``, ``recency``, ``T`` (arrays), ``alive`` (still active at ``T``) and
    ``holdout_purchases`` (repeat purchases in ``(T, T + holdout]``).
    """
    rng = np.random.default_rng(random_state)
    ages = np.broadcast_to(_as_float(T), (n_customers,)).copy()
    rate = rng.gamma(params["r"], 1.0 / params["alpha"], n_customers)
    dropout = rng.beta(params["a"], params["b"], n_customers)
    # repeat purchases a customer makes before dropping out (drop-out only follows a repeat purchase)
    lifetime_purchases = rng.geometric(dropout)
    arrivals = rng.poisson(rate * ages)  # purchases the Poisson process would make in (0, T]
    frequency = np.minimum(arrivals, lifetime_purchases)
    # given n arrivals on (0, T], the k-th one lies at T * Beta(k, n - k + 1)
    safe_k = np.maximum(frequency, 1)
    recency = np.where(frequency > 0, ages * rng.beta(safe_k, np.maximum(arrivals - safe_k + 1, 1)), 0.0)
    alive = lifetime_purchases > arrivals
    later = rng.poisson(rate * holdout) if holdout > 0 else np.zeros(n_customers, dtype=np.int64)
    holdout_purchases = np.where(alive, np.minimum(later, lifetime_purchases - arrivals), 0)
    return {
        "frequency": frequency.astype(np.float64),
        "recency": recency,
        "T": ages,
        "alive": alive,
        "holdout_purchases": holdout_purchases.astype(np.float64),
    }


def simulate_gamma_gamma(
    frequency: npt.ArrayLike, params: dict[str, float], random_state: int | np.random.Generator | None = None
) -> FloatArray:
    """Average spend of each customer's ``frequency`` purchases under the Gamma-Gamma model."""
    rng = np.random.default_rng(random_state)
    x = _as_float(frequency)
    if np.any(x < 1):
        raise ValueError("Every customer needs at least one purchase.")
    nu = rng.gamma(params["q"], 1.0 / params["v"], x.size)
    # the sum of x Gamma(p, nu) purchases is Gamma(p x, nu)
    return rng.gamma(params["p"] * x, 1.0 / nu) / x

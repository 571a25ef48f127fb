"""Price elasticity per product: a log-log demand model with season and trend controls, pooled to its category.

The model, per product ``i`` and period ``t`` (a week by default)::

    E[units_it] = exp(a_i + e_i * log(price_it / ref_i) + trend_i * t' + seasonal harmonics_i(t)
                      [+ v_i * log(1 + views_it)])

is a log-log regression fitted as a quasi-Poisson GLM (log link), so weeks with zero sales count and
the noise may be over-dispersed. ``e_i`` is the elasticity. Every coefficient but the level ``a_i``
has a normal prior whose mean and spread are learned from the other products (empirical Bayes,
two levels: product within category, category within shop, and a weak hyperprior at the top; the spread
between products is the posterior mean of a half-normal prior, re-estimated over a few rounds, so thin
evidence does not collapse it to zero and the intervals stay honest). A product
whose price never moved therefore gets its category's elasticity, with the category's uncertainty; a
product with rich price variation keeps its own estimate. The intervals are the Laplace posterior's.

Views enter as a traffic control (they measure exposure, not the response to price). Add-to-carts,
when given, are a second outcome that shares the elasticity and the seasonality with purchases but
has its own level: more (and less sparse) observations of the same response.

Inputs are long-format arrays on contiguous product ids ``0..n_products-1`` (:meth:`fit`) or dense
``(n_products, n_periods)`` panels (:meth:`fit_panel`, what the strategies use). Observations with
weight 0 (missing weeks, stock-outs, whose sales are censored) are ignored.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

ELASTICITY = 1  # column of the elasticity in ``coef_``


@dataclass(frozen=True)
class Posterior:
    """Gaussian posterior of every product's coefficients: ``mean (n, k)`` and ``cov (n, k, k)``."""

    mean: np.ndarray
    cov: np.ndarray

    def sample(self, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
        """One draw per product, with the spread multiplied by ``scale`` (0 returns the mean)."""
        if scale == 0:
            return self.mean.copy()
        chol = _safe_cholesky(self.cov)
        z = rng.standard_normal(self.mean.shape)
        return self.mean + scale * np.einsum("nkl,nl->nk", chol, z)


def _safe_cholesky(cov: np.ndarray) -> np.ndarray:
    k = cov.shape[-1]
    sym = 0.5 * (cov + np.swapaxes(cov, -1, -2))
    try:
        return np.linalg.cholesky(sym + 1e-10 * np.eye(k))
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(sym)
        return vecs * np.sqrt(np.clip(vals, 0.0, None))[..., None, :]


def tau2_posterior_mean(estimates: np.ndarray, variances: np.ndarray, groups: np.ndarray, scale: float) -> float:
    """Posterior mean of the between-unit variance ``tau^2`` around group means.

    Restricted (REML) likelihood of the normal-normal model on a grid of ``tau``, with a half-normal
    prior of the given ``scale`` on ``tau``. Unlike a point estimate (Paule-Mandel, ML), the posterior
    mean does not collapse to 0 when the data say little, which keeps intervals honest and products
    from being pooled completely on thin evidence.
    """
    informative = np.isfinite(variances) & (variances < 1e6)
    est, var, grp = estimates[informative], variances[informative], groups[informative]
    taus = np.linspace(0.0, 4.0 * scale, 121)
    log_post = -0.5 * (taus / scale) ** 2
    if len(est) > 1:
        uniq, grp = np.unique(grp, return_inverse=True)
        tot = var[None, :] + taus[:, None] ** 2  # (grid, n)
        w = 1.0 / tot
        sw = np.stack([np.bincount(grp, row, minlength=len(uniq)) for row in w])
        swe = np.stack([np.bincount(grp, row * est, minlength=len(uniq)) for row in w])
        means = swe / np.where(sw > 0, sw, 1.0)
        resid = est[None, :] - means[:, grp]
        log_post = log_post + (-0.5 * np.log(tot).sum(axis=1) - 0.5 * (w * resid ** 2).sum(axis=1)
                               - 0.5 * np.log(np.where(sw > 0, sw, 1.0)).sum(axis=1))
    post = np.exp(log_post - log_post.max())
    return float(np.sum(post * taus ** 2) / np.sum(post))


def _robust_weights(estimates: np.ndarray, variances: np.ndarray, category: np.ndarray, n_categories: int,
                    tau2: float, hyper_mean: float, k: float = 2.0, rounds: int = 4) -> np.ndarray:
    """Precision weights times Huber weights: an estimate more than ``k`` sd from its category's
    (reweighted) mean counts as if it lay ``k`` sd away, so a few products cannot drag the prior."""
    base = 1.0 / (variances + tau2)
    base[~np.isfinite(base)] = 0.0
    w = base.copy()
    for _ in range(rounds):
        weight_c = np.bincount(category, w, minlength=n_categories)
        mean_c = np.where(weight_c > 0, np.bincount(category, w * estimates, minlength=n_categories)
                          / np.where(weight_c > 0, weight_c, 1.0), hyper_mean)
        z = np.abs(estimates - mean_c[category]) * np.sqrt(base)
        w = base * np.minimum(1.0, k / np.maximum(z, 1e-12))
    return w


def _pool(estimates: np.ndarray, variances: np.ndarray, category: np.ndarray, n_categories: int,
          hyper_mean: float, hyper_sd: float, min_tau: float,
          robust: bool = False) -> tuple[np.ndarray, np.ndarray, float]:
    """Empirical-Bayes prior for one coefficient: per-category mean and variance, and the product spread tau.

    Returns ``(category_mean, category_var, tau2)``; the prior of product ``i`` is
    ``N(category_mean[c], category_var[c] + tau2)``. ``robust``: Huber-weighted category means, and the
    spread estimated on estimates clipped to three of their sd around them.
    """
    if robust:
        sd = np.sqrt(np.where(np.isfinite(variances), variances, np.inf))
        w0 = _robust_weights(estimates, variances, category, n_categories, hyper_sd ** 2, hyper_mean)
        weight0 = np.bincount(category, w0, minlength=n_categories)
        centre = np.where(weight0 > 0, np.bincount(category, w0 * estimates, minlength=n_categories)
                          / np.where(weight0 > 0, weight0, 1.0), hyper_mean)[category]
        clipped = np.clip(estimates, centre - 3.0 * sd, centre + 3.0 * sd)
        tau2 = max(tau2_posterior_mean(clipped, variances, category, hyper_sd), min_tau ** 2)
        w = _robust_weights(estimates, variances, category, n_categories, tau2, hyper_mean)
    else:
        tau2 = max(tau2_posterior_mean(estimates, variances, category, hyper_sd), min_tau ** 2)
        w = 1.0 / (variances + tau2)
        w[~np.isfinite(w)] = 0.0
    weight_c = np.bincount(category, w, minlength=n_categories)
    sum_c = np.bincount(category, w * estimates, minlength=n_categories)
    raw_mean = np.where(weight_c > 0, sum_c / np.where(weight_c > 0, weight_c, 1.0), hyper_mean)
    raw_var = np.where(weight_c > 0, 1.0 / np.where(weight_c > 0, weight_c, 1.0), np.inf)
    has = weight_c > 0
    # Categories within the shop: their spread omega^2, their grand mean with a weak hyperprior.
    omega2 = tau2_posterior_mean(raw_mean[has], raw_var[has], np.zeros(int(has.sum()), dtype=np.int64), hyper_sd)
    omega2 = max(omega2, min_tau ** 2)
    wg = np.where(has, 1.0 / (raw_var + omega2), 0.0)
    grand_prec = wg.sum() + 1.0 / hyper_sd ** 2
    grand_mean = (np.sum(wg * np.where(has, raw_mean, 0.0)) + hyper_mean / hyper_sd ** 2) / grand_prec
    grand_var = 1.0 / grand_prec
    prior_prec = 1.0 / (omega2 + grand_var)
    data_prec = np.where(has, 1.0 / raw_var, 0.0)
    cat_var = 1.0 / (data_prec + prior_prec)
    cat_mean = cat_var * (data_prec * np.where(has, raw_mean, 0.0) + prior_prec * grand_mean)
    return cat_mean, cat_var, tau2


def _newton(X: np.ndarray, y: np.ndarray, w: np.ndarray, prior_mean: np.ndarray, prior_prec: np.ndarray,
            theta: np.ndarray, phi: np.ndarray, max_iter: int) -> tuple[np.ndarray, np.ndarray]:
    """Penalised IRLS for every product at once; returns the MAP coefficients and the Hessian."""
    k = X.shape[-1]
    eye = np.eye(k)
    hess = np.zeros((X.shape[0], k, k))
    for _ in range(max_iter):
        eta = np.clip(np.einsum("ntk,nk->nt", X, theta), -30.0, 30.0)
        mu = np.exp(eta)
        grad = np.einsum("ntk,nt->nk", X, w * (y - mu)) / phi[:, None] - prior_prec * (theta - prior_mean)
        hess = np.matmul(np.swapaxes(X, 1, 2) * (w * mu / phi[:, None])[:, None, :], X) + prior_prec[:, :, None] * eye
        delta = np.linalg.solve(hess, grad[..., None])[..., 0]
        moved = np.abs(np.einsum("ntk,nk->nt", X, delta) * (w > 0)).max(axis=1)
        scale = np.minimum(1.0, 2.0 / np.maximum(moved, 1e-12))
        theta = theta + scale[:, None] * delta
        if np.max(np.abs(delta)) < 1e-7:
            break
    eta = np.clip(np.einsum("ntk,nk->nt", X, theta), -30.0, 30.0)
    mu = np.exp(eta)
    hess = np.matmul(np.swapaxes(X, 1, 2) * (w * mu / phi[:, None])[:, None, :], X) + prior_prec[:, :, None] * eye
    return theta, hess


class ElasticityEstimator:
    """Hierarchical (empirical-Bayes) log-log elasticity estimator with season and trend controls.

    Parameters: ``season_length`` periods per seasonal cycle (52 weeks); ``harmonics`` Fourier pairs
    for the seasonal profile (0: none); ``trend`` a log-linear trend; ``ci`` the interval level;
    ``prior_elasticity``/``prior_elasticity_sd`` the weak hyperprior on the shop-wide mean elasticity;
    ``control_prior_sd`` the same for the controls (the trend's is scaled by the history's span over
    ``season_length``, at most 1: a short history gets a trend only as strong as it shows); ``min_tau``
    the least spread allowed between products of a category (keeps pooling from being total);
    ``half_life`` down-weights old observations (in periods; ``None``: all weigh the same);
    ``eb_rounds`` how often the priors are re-estimated from the fit they shaped; ``pool`` switches the
    hierarchy off
    (each product with the weak hyperprior only); ``curvature`` adds ``k_i * log(price / ref)^2`` (pooled
    like the rest, prior centred on 0 with spread ``curvature_prior_sd``) so that curves that are not
    constant-elasticity (linear demand) are followed: the elasticity at price ``p`` is then
    ``e_i + 2 k_i log(p / ref_i)`` and ``elasticity_`` is the one at the reference price.

    Learned: ``coef_ (n, k)``, ``coef_cov_ (n, k, k)``, ``elasticity_``, ``elasticity_std_``,
    ``ci_low_``, ``ci_high_``, ``category_elasticity_``, ``category_elasticity_std_``, ``shrinkage_``
    (share of the elasticity's posterior precision that comes from the category prior), ``n_obs_``,
    ``price_variation_`` (sd of log price), ``dispersion_``, ``reference_price_``, ``feature_names_``.
    """

    def __init__(self, *, season_length: int = 52, harmonics: int = 2, trend: bool = True, ci: float = 0.90,
                 prior_elasticity: float = -2.0, prior_elasticity_sd: float = 1.0, control_prior_sd: float = 0.5,
                 min_tau: float = 0.05, half_life: float | None = None, pool: bool = True, curvature: bool = False,
                 curvature_prior_sd: float = 0.5, eb_rounds: int = 3, max_iter: int = 30, robust_pool: bool = False):
        self.season_length = season_length
        self.harmonics = harmonics
        self.trend = trend
        self.ci = ci
        self.prior_elasticity = prior_elasticity
        self.prior_elasticity_sd = prior_elasticity_sd
        self.control_prior_sd = control_prior_sd
        self.min_tau = min_tau
        self.half_life = half_life
        self.pool = pool
        self.curvature = curvature
        self.curvature_prior_sd = curvature_prior_sd
        self.eb_rounds = eb_rounds
        self.max_iter = max_iter
        self.robust_pool = robust_pool

    # ----------------------------------------------------------------------------------------- design
    def _controls(self, periods: np.ndarray, center: np.ndarray) -> list[np.ndarray]:
        """Trend and harmonics for ``periods`` (any shape broadcast against ``center[:, None]``)."""
        cols: list[np.ndarray] = []
        if self.trend:
            cols.append((periods - center) / self.season_length)
        for h in range(1, self.harmonics + 1):
            angle = 2.0 * np.pi * h * periods / self.season_length
            cols.extend([np.sin(angle) + 0.0 * center, np.cos(angle) + 0.0 * center])
        return cols

    def _names(self, views: bool, carts: bool, covariates: Sequence[str] = ()) -> list[str]:
        names = ["level", "log_price"] + (["log_price_sq"] if self.curvature else [])
        names += ["trend"] if self.trend else []
        for h in range(1, self.harmonics + 1):
            names += [f"sin{h}", f"cos{h}"]
        return names + (["log_views"] if views else []) + list(covariates) + (["cart_level"] if carts else [])

    # -------------------------------------------------------------------------------------------- fit
    def fit(self, product: np.ndarray, period: np.ndarray, price: np.ndarray, units: np.ndarray, *,
            n_products: int | None = None, category: np.ndarray | None = None, weight: np.ndarray | None = None,
            views: np.ndarray | None = None, carts: np.ndarray | None = None,
            reference_price: np.ndarray | None = None) -> ElasticityEstimator:
        """Fit on long-format observations (one row per product and period; ``period`` are integers).

        ``category`` has one entry per product (not per row). Rows of a product in the same period
        must be aggregated beforehand (see :func:`pricing.ml.demand_data.weekly_demand_panel`).
        """
        product = np.asarray(product, dtype=np.int64)
        period = np.asarray(period, dtype=np.int64)
        if not (len(product) == len(period) == len(price) == len(units)):
            raise ValueError("product, period, price and units must have the same length")
        n = int(n_products if n_products is not None else (product.max() + 1 if len(product) else 0))
        t0 = int(period.min()) if len(period) else 0
        n_t = int(period.max() - t0 + 1) if len(period) else 1
        shape = (n, n_t)
        if len(product) and (product.min() < 0 or product.max() >= n):
            raise ValueError("product ids must lie in 0..n_products-1")
        dense_p, dense_q, dense_w = np.ones(shape), np.zeros(shape), np.zeros(shape)
        dense_p[product, period - t0] = np.asarray(price, dtype=float)
        dense_q[product, period - t0] = np.asarray(units, dtype=float)
        dense_w[product, period - t0] = 1.0 if weight is None else np.asarray(weight, dtype=float)
        dense_v = dense_c = None
        if views is not None:
            dense_v = np.zeros(shape)
            dense_v[product, period - t0] = np.asarray(views, dtype=float)
        if carts is not None:
            dense_c = np.zeros(shape)
            dense_c[product, period - t0] = np.asarray(carts, dtype=float)
        return self.fit_panel(dense_p, dense_q, periods=np.arange(t0, t0 + n_t), category=category,
                              weight=dense_w, views=dense_v, carts=dense_c, reference_price=reference_price)

    def fit_panel(self, price: np.ndarray, units: np.ndarray, *, periods: np.ndarray | None = None,
                  category: np.ndarray | None = None, weight: np.ndarray | None = None,
                  views: np.ndarray | None = None, carts: np.ndarray | None = None,
                  reference_price: np.ndarray | None = None,
                  covariates: dict[str, tuple[np.ndarray, float] | tuple[np.ndarray, float, float]] | None = None,
                  ) -> ElasticityEstimator:
        """Fit on dense ``(n_products, n_periods)`` panels; ``weight`` 0 marks missing or censored cells.

        ``covariates``: name -> ``(panel like price, prior sd[, prior mean])``, further regressors (for
        example the mean log price of a product's substitutes, whose coefficient is a cross-price
        elasticity); each is centred per product (``covariate_center_[name]``) and pooled like the controls
        (the hyperprior: that mean, 0 unless given, and that spread); its coefficient is the column ``name``
        of ``feature_names_``.
        """
        price = np.asarray(price, dtype=float)
        units = np.asarray(units, dtype=float)
        n, n_t = price.shape
        periods = np.arange(n_t, dtype=float) if periods is None else np.asarray(periods, dtype=float)
        w = np.ones_like(price) if weight is None else np.asarray(weight, dtype=float).copy()
        w[~(price > 0) | ~np.isfinite(units) | (units < 0)] = 0.0
        if self.half_life is not None and n_t:
            last = np.array([periods[np.nonzero(row > 0)[0][-1]] if np.any(row > 0) else periods[-1] for row in w])
            w = w * 0.5 ** ((last[:, None] - periods[None, :]) / self.half_life)
        category = np.zeros(n, dtype=np.int64) if category is None or not self.pool \
            else np.asarray(category, dtype=np.int64)
        n_categories = int(category.max() + 1) if n else 0
        logp = np.log(np.where(price > 0, price, 1.0))
        wsum = w.sum(axis=1)
        mean_logp = np.where(wsum > 0, (w * logp).sum(axis=1) / np.where(wsum > 0, wsum, 1.0), logp[:, -1])
        ref = np.exp(mean_logp) if reference_price is None else np.asarray(reference_price, dtype=float)
        center = np.where(wsum > 0, (w * periods).sum(axis=1) / np.where(wsum > 0, wsum, 1.0), periods[-1])

        x = logp - np.log(ref)[:, None]
        cols = [np.ones_like(price), x] + ([x ** 2] if self.curvature else [])
        cols += [np.broadcast_to(c, price.shape) for c in self._controls(periods[None, :], center[:, None])]
        views_center = None
        if views is not None:
            lv = np.log1p(np.clip(np.asarray(views, dtype=float), 0, None))
            views_center = np.where(wsum > 0, (w * lv).sum(axis=1) / np.where(wsum > 0, wsum, 1.0), 0.0)
            cols.append(lv - views_center[:, None])
        covariates = covariates or {}
        covariate_center: dict[str, np.ndarray] = {}
        covariate_sd: list[float] = []
        covariate_mean: list[float] = []
        n_before = len(cols)
        for name, spec in covariates.items():
            panel, sd = spec[0], spec[1]
            covariate_mean.append(float(spec[2]) if len(spec) > 2 else 0.0)
            cp = np.asarray(panel, dtype=float)
            covariate_center[name] = np.where(wsum > 0, (w * cp).sum(axis=1) / np.where(wsum > 0, wsum, 1.0), cp[:, -1])
            cols.append(cp - covariate_center[name][:, None])
            covariate_sd.append(float(sd))
        X = np.stack(cols, axis=-1)
        y = np.where(w > 0, units, 0.0)
        if carts is not None:
            Xc = np.concatenate([X, np.ones(X.shape[:-1] + (1,))], axis=-1)
            Xp = np.concatenate([X, np.zeros(X.shape[:-1] + (1,))], axis=-1)
            X = np.concatenate([Xp, Xc], axis=1)
            y = np.concatenate([y, np.where(w > 0, np.asarray(carts, dtype=float), 0.0)], axis=1)
            w = np.concatenate([w, w], axis=1)
        k = X.shape[-1]
        pooled = np.ones(k, dtype=bool)
        pooled[0] = False
        if carts is not None:
            pooled[-1] = False

        hyper_mean = np.zeros(k)
        hyper_mean[ELASTICITY] = self.prior_elasticity
        hyper_sd = np.full(k, self.control_prior_sd)
        hyper_sd[ELASTICITY] = self.prior_elasticity_sd
        if self.curvature:
            hyper_sd[ELASTICITY + 1] = self.curvature_prior_sd
        # A trend only as far as the history supports it: its spread grows with the span of the history,
        # the full ``control_prior_sd`` from one season on. Over a few weeks a trend is a straight line in
        # time, and so is a price that moved one way every week: unchecked, the two trade places (a steep
        # trend and a price that "adds" sales). (The same for the season's harmonics cost the benchmark's
        # seasonal market more than it gained: bench/pricing_rule_2026-12-08.md.)
        seen = periods[w[:, :n_t].sum(axis=0) > 0] if n_t else periods
        span = float(seen.max() - seen.min() + 1.0) if len(seen) else 0.0
        first = ELASTICITY + 1 + int(self.curvature)
        if self.trend:
            hyper_sd[first] *= min(1.0, max(span, 1.0) / self.season_length)
        if covariate_sd:
            hyper_sd[n_before:n_before + len(covariate_sd)] = covariate_sd
            hyper_mean[n_before:n_before + len(covariate_mean)] = covariate_mean
        level = np.log((w * y).sum(axis=1) / np.maximum(w.sum(axis=1), 1e-12) + 0.5)
        theta = np.zeros((n, k))
        theta[:, 0] = level
        theta[:, ELASTICITY] = hyper_mean[ELASTICITY]
        flat = np.full((n, k), 1e-4)  # weak anchor for the levels
        phi = np.ones(n)

        # Start: each product with a weak prior (five times the hyperprior's spread).
        prior_prec = np.where(pooled, 1.0 / (5.0 * hyper_sd) ** 2, flat)
        prior_mean = np.where(pooled, hyper_mean, theta)
        theta, hess = _newton(X, y, w, prior_mean, prior_prec, theta, phi, self.max_iter)
        phi = self._dispersion(X, y, w, theta, hess, prior_prec)
        self.category_mean_ = np.tile(hyper_mean, (n_categories, 1))
        self.category_var_ = np.tile(hyper_sd ** 2, (n_categories, 1))
        self.tau2_ = np.zeros(k)
        # Empirical Bayes, iterated: for each pooled coefficient, its marginal likelihood (the current
        # posterior with its own prior divided out, the other coefficients integrated under theirs) is
        # pooled by category into a new prior. Sharper priors on the controls make the elasticity's
        # marginal likelihood sharper, so the spread between products is re-estimated each round.
        for _ in range(self.eb_rounds):
            theta, hess = _newton(X, y, w, prior_mean, prior_prec, theta, phi, self.max_iter)
            cov = np.linalg.inv(hess)
            new_mean, new_prec = prior_mean.copy(), prior_prec.copy()
            for j in np.nonzero(pooled)[0]:
                post_var = cov[:, j, j]
                lik_prec = 1.0 / post_var - prior_prec[:, j]
                informative = lik_prec > 1e-6 * prior_prec[:, j]
                lik_var = np.where(informative, 1.0 / np.where(informative, lik_prec, 1.0), np.inf)
                lik_mean = np.where(informative, (theta[:, j] / post_var - prior_prec[:, j] * prior_mean[:, j])
                                    * np.where(informative, lik_var, 0.0), 0.0)
                if self.pool:
                    cat_mean, cat_var, tau2 = _pool(lik_mean, lik_var, category, n_categories, hyper_mean[j],
                                                    hyper_sd[j], self.min_tau if j == ELASTICITY else self.min_tau / 5,
                                                    robust=self.robust_pool)
                else:
                    cat_mean, cat_var, tau2 = np.array([hyper_mean[j]]), np.array([0.0]), hyper_sd[j] ** 2
                new_mean[:, j] = cat_mean[category]
                new_prec[:, j] = 1.0 / (cat_var[category] + tau2)
                self.category_mean_[:, j] = cat_mean if self.pool else cat_mean[0]
                self.category_var_[:, j] = cat_var if self.pool else 0.0
                self.tau2_[j] = tau2
            phi = self._dispersion(X, y, w, theta, hess, prior_prec)
            prior_mean, prior_prec = new_mean, new_prec

        # The posterior under the learned prior.
        theta2, hess2 = _newton(X, y, w, prior_mean, prior_prec, theta, phi, self.max_iter)
        cov2 = np.linalg.inv(hess2)

        z = stats.norm.ppf(0.5 + self.ci / 2.0)
        self.coef_ = theta2
        self.coef_cov_ = cov2
        self.prior_mean_ = prior_mean
        self.prior_prec_ = prior_prec
        self.elasticity_ = theta2[:, ELASTICITY]
        self.elasticity_std_ = np.sqrt(cov2[:, ELASTICITY, ELASTICITY])
        self.ci_low_ = self.elasticity_ - z * self.elasticity_std_
        self.ci_high_ = self.elasticity_ + z * self.elasticity_std_
        self.category_elasticity_ = self.category_mean_[:, ELASTICITY]
        self.category_elasticity_std_ = np.sqrt(self.category_var_[:, ELASTICITY] + self.tau2_[ELASTICITY])
        self.shrinkage_ = prior_prec[:, ELASTICITY] * cov2[:, ELASTICITY, ELASTICITY]
        wp = w[:, :n_t]
        self.n_obs_ = (wp > 0).sum(axis=1)
        dev = logp - mean_logp[:, None]
        self.price_variation_ = np.sqrt((wp * dev ** 2).sum(axis=1) / np.maximum(wp.sum(axis=1), 1e-12))
        self.dispersion_ = phi
        self.reference_price_ = ref
        self.period_center_ = center
        self.views_center_ = views_center
        self.covariate_center_ = covariate_center
        self.feature_names_ = self._names(views is not None, carts is not None, list(covariates))
        self.category_ = category
        return self

    @staticmethod
    def _dispersion(X: np.ndarray, y: np.ndarray, w: np.ndarray, theta: np.ndarray, hess: np.ndarray,
                    prior_prec: np.ndarray) -> np.ndarray:
        """Quasi-Poisson dispersion per product (Pearson), shrunk to the shop's median, at least 1."""
        mu = np.exp(np.clip(np.einsum("ntk,nk->nt", X, theta), -30.0, 30.0))
        pearson = (w * (y - mu) ** 2 / np.maximum(mu, 1e-9)).sum(axis=1)
        # Effective parameters: trace of (data information) x (posterior covariance).
        cov = np.linalg.inv(hess)
        data_info = hess - prior_prec[:, :, None] * np.eye(hess.shape[-1])
        k_eff = np.einsum("nkl,nlk->n", data_info, cov)
        dof = np.maximum((w > 0).sum(axis=1) - k_eff, 0.0)
        raw = np.where(dof > 0.5, pearson / np.maximum(dof, 1e-9), np.nan)
        pooled = float(np.nanmedian(raw)) if np.any(np.isfinite(raw)) else 1.0
        pooled = max(pooled, 1.0)
        prior_dof = 8.0
        shrunk = (np.nan_to_num(raw) * np.where(np.isfinite(raw), dof, 0.0) + pooled * prior_dof) \
            / (np.where(np.isfinite(raw), dof, 0.0) + prior_dof)
        return np.maximum(shrunk, 1.0)

    # ------------------------------------------------------------------------------------- prediction
    def posterior(self) -> Posterior:
        """The coefficients' Gaussian posterior (for Thompson sampling)."""
        return Posterior(self.coef_, self.coef_cov_)

    def base_log_demand(self, periods: np.ndarray | float, coef: np.ndarray | None = None) -> np.ndarray:
        """``log E[units]`` at the reference price for each product and period: ``(n_products, len(periods))``.

        Views are taken at their average (the control is centred). ``coef`` overrides ``coef_`` (a
        posterior draw).
        """
        coef = self.coef_ if coef is None else coef
        periods = np.atleast_1d(np.asarray(periods, dtype=float))
        cols = [np.ones((coef.shape[0], len(periods)))]
        cols += [np.broadcast_to(c, (coef.shape[0], len(periods)))
                 for c in self._controls(periods[None, :], self.period_center_[:, None])]
        X = np.stack(cols, axis=-1)
        first = 3 if self.curvature else 2
        idx = [0] + list(range(first, first + X.shape[-1] - 1))
        return np.einsum("ntk,nk->nt", X, coef[:, idx])

    def log_price_effect(self, prices: np.ndarray, coef: np.ndarray | None = None) -> np.ndarray:
        """The price term of ``log E[units]`` at ``prices (n_products, m)`` (0 at the reference price).

        With curvature the quadratic is followed only where it falls: above the reference price the
        term is the lowest the quadratic reaches between the reference and the price, below it the
        highest, so demand never rises with the price (the law of demand) and never leaves the values
        the curve takes between the prices seen and the one asked about. A quadratic fitted on a narrow
        price range, or a posterior draw of it, would otherwise promise more sales far above or below
        the prices seen, and an optimiser would chase them.
        """
        coef = self.coef_ if coef is None else coef
        x = np.log(np.asarray(prices, dtype=float) / self.reference_price_[:, None])
        e = coef[:, [ELASTICITY]]
        if not self.curvature:
            return e * x
        q = coef[:, [ELASTICITY + 1]]
        curve = e * x + q * x ** 2
        bent = np.abs(q) > 1e-12
        turn = np.where(bent, -e / (2.0 * np.where(bent, q, 1.0)), 0.0)
        at_turn = e * turn + q * turn ** 2
        above = np.minimum(curve, 0.0)  # the lowest between the reference (0) and x >= 0
        above = np.where(bent & (q > 0) & (turn > 0) & (turn < x), np.minimum(above, at_turn), above)
        below = np.maximum(curve, 0.0)  # the highest between x <= 0 and the reference
        below = np.where(bent & (q < 0) & (turn < 0) & (turn > x), np.maximum(below, at_turn), below)
        return np.where(x >= 0, above, below)

    def predict(self, periods: np.ndarray | float, prices: np.ndarray, coef: np.ndarray | None = None) -> np.ndarray:
        """Expected units at ``prices (n_products, m)`` in one period (``periods`` scalar) or per period.

        With a scalar period, every column of ``prices`` is a candidate price in that period.
        """
        coef = self.coef_ if coef is None else coef
        base = self.base_log_demand(periods, coef)
        prices = np.asarray(prices, dtype=float)
        if prices.ndim == 1:
            prices = prices[:, None]
        if base.shape[1] == 1:
            base = np.broadcast_to(base, prices.shape)
        return np.exp(np.clip(base + self.log_price_effect(prices, coef), -30.0, 30.0))

    # ------------------------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """Write the learned arrays and the hyperparameters to one ``.npz`` (no pickle)."""
        params = {name: getattr(self, name) for name in (
            "season_length", "harmonics", "trend", "ci", "prior_elasticity", "prior_elasticity_sd",
            "control_prior_sd", "min_tau", "half_life", "pool", "curvature", "curvature_prior_sd", "eb_rounds",
            "max_iter", "robust_pool")}
        arrays = {name: getattr(self, name) for name in (
            "coef_", "coef_cov_", "reference_price_", "period_center_", "category_mean_", "category_var_",
            "tau2_", "dispersion_", "category_", "n_obs_", "price_variation_", "prior_mean_", "prior_prec_")}
        meta = {"class": "ElasticityEstimator", "params": params, "feature_names": self.feature_names_,
                "numpy": np.__version__}
        np.savez(Path(path), __meta__=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path: str | Path) -> ElasticityEstimator:
        """Read an estimator written by :meth:`save`."""
        with np.load(Path(path), allow_pickle=False) as data:
            meta = json.loads(str(data["__meta__"]))
            est = cls(**meta["params"])
            for name in data.files:
                if name != "__meta__":
                    setattr(est, name, data[name])
        est.feature_names_ = meta["feature_names"]
        est.views_center_ = None
        est.covariate_center_ = {}
        z = stats.norm.ppf(0.5 + est.ci / 2.0)
        est.elasticity_ = est.coef_[:, ELASTICITY]
        est.elasticity_std_ = np.sqrt(est.coef_cov_[:, ELASTICITY, ELASTICITY])
        est.ci_low_ = est.elasticity_ - z * est.elasticity_std_
        est.ci_high_ = est.elasticity_ + z * est.elasticity_std_
        est.category_elasticity_ = est.category_mean_[:, ELASTICITY]
        est.category_elasticity_std_ = np.sqrt(est.category_var_[:, ELASTICITY] + est.tau2_[ELASTICITY])
        est.shrinkage_ = est.prior_prec_[:, ELASTICITY] * est.coef_cov_[:, ELASTICITY, ELASTICITY]
        return est


def loglog_ols(price: np.ndarray, units: np.ndarray, weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Plain log-log OLS slope per product (rows), on cells with sales > 0: ``(slope, standard error)``.

    No controls and no pooling: the textbook anchor. Products with fewer than three usable cells or no
    price variation get ``nan``.
    """
    price = np.asarray(price, dtype=float)
    units = np.asarray(units, dtype=float)
    w = np.ones_like(price) if weight is None else np.asarray(weight, dtype=float)
    use = (w > 0) & (units > 0) & (price > 0)
    x = np.where(use, np.log(np.where(price > 0, price, 1.0)), 0.0)
    y = np.where(use, np.log(np.where(units > 0, units, 1.0)), 0.0)
    n = use.sum(axis=1).astype(float)
    nn = np.maximum(n, 1.0)
    mx, my = x.sum(axis=1) / nn, y.sum(axis=1) / nn
    sxx = (np.where(use, (x - mx[:, None]) ** 2, 0.0)).sum(axis=1)
    sxy = (np.where(use, (x - mx[:, None]) * (y - my[:, None]), 0.0)).sum(axis=1)
    ok = (n >= 3) & (sxx > 1e-10)
    slope = np.where(ok, sxy / np.where(ok, sxx, 1.0), np.nan)
    resid = np.where(use, y - my[:, None] - slope[:, None] * (x - mx[:, None]), 0.0)
    s2 = (resid ** 2).sum(axis=1) / np.maximum(n - 2, 1.0)
    se = np.where(ok, np.sqrt(s2 / np.where(ok, sxx, 1.0)), np.nan)
    return slope, se


def coverage(true: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """Share of ``true`` values inside ``[low, high]``."""
    true, low, high = (np.asarray(a, dtype=float) for a in (true, low, high))
    return float(np.mean((true >= low) & (true <= high))) if len(true) else float("nan")


def describe(estimator: ElasticityEstimator, names: Sequence[str] | None = None) -> list[dict[str, float | str]]:
    """One row per product (elasticity, interval, shrinkage, observations) for reports and the admin."""
    rows: list[dict[str, float | str]] = []
    for i in range(len(estimator.elasticity_)):
        rows.append({
            "product": names[i] if names is not None else str(i),
            "elasticity": float(estimator.elasticity_[i]), "ci_low": float(estimator.ci_low_[i]),
            "ci_high": float(estimator.ci_high_[i]), "shrinkage": float(estimator.shrinkage_[i]),
            "n_obs": float(estimator.n_obs_[i]), "price_variation": float(estimator.price_variation_[i]),
        })
    return rows

"""Dynamic pricing without Django: guardrails, elasticity estimation, strategies and a market simulator.

- :mod:`.guardrails` / :mod:`.endings`: the rules every price passes, in a fixed order, hard floors last.
- :mod:`.elasticity`: hierarchical log-log elasticity estimator with season/trend controls.
- :mod:`.demand_data`: weekly demand panels from order lines, with wholesale quantity tiers separated.
- :mod:`.strategies`: the one strategy interface (``propose(period, context)`` / ``observe(prices, units)``).
- :mod:`.robust`: the default strategy (robust pooling, uncertainty-aware prices, TS with inventory).
- :mod:`.simulation`: markets with hidden demand curves, the clairvoyant and hindsight yardsticks.

The Django side (``pricing.services``) turns ORM rows into these arrays and back.
"""
from .elasticity import ElasticityEstimator
from .endings import PriceBand
from .guardrails import (
    BreakerDecision,
    GuardrailPolicy,
    GuardrailResult,
    apply_guardrails,
    audit_price,
    check_circuit_breaker,
)
from .robust import RobustPricingStrategy, default_strategy
from .strategies import (
    ElasticityOptimizer,
    FixedPriceStrategy,
    HoldStrategy,
    MarkdownStrategy,
    PlainLogLogStrategy,
    PricingContext,
    PricingStrategy,
    ThompsonInventoryStrategy,
    greedy_strategy,
)

__all__ = [
    "BreakerDecision", "ElasticityEstimator", "ElasticityOptimizer", "FixedPriceStrategy", "GuardrailPolicy",
    "GuardrailResult", "HoldStrategy", "MarkdownStrategy", "PlainLogLogStrategy", "PriceBand", "PricingContext",
    "PricingStrategy", "RobustPricingStrategy", "ThompsonInventoryStrategy", "apply_guardrails", "audit_price",
    "check_circuit_breaker", "default_strategy", "greedy_strategy",
]

"""Customer profiles and segments: RFM scores and named segments, 90-day lifetime value (BG/NBD +
Gamma-Gamma), K-means clusters described in words, category affinity and buyer type.

- ``core`` — the maths on plain pandas frames (no Django); ``services`` — read orders through the
  adapter, rebuild everyone (``run_build``) or fold one new order in (``update_profile_for_order``);
- ``selectors`` — read-only queries; ``tasks`` / ``receivers`` — the nightly rebuild and the update after
  an order; ``admin`` / ``charts`` — the segments page with its scatter plot.
"""

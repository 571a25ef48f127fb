"""Recommenders without Django: one contract (:mod:`.base`), the models, and the offline evaluation."""

"""Ready-made integrations of ShopSense with known shop frameworks (one sub-package each)."""

"""ShopSense inventory app (models and services arrive with their issues)."""

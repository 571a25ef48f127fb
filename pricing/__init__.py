"""ShopSense pricing app (models and services arrive with their issues)."""

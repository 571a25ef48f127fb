"""ShopSense personalization: behaviour capture, the host contract, profiles and recommendations."""

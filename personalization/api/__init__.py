"""The personalization REST API (DRF): events, recommendations, profiles and segments, health; with
the API-key authentication, permissions, JSON error pages and schema hooks that the three apps share."""

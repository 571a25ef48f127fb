"""The pricing REST API (DRF): staff endpoints for suggestions, policies and price history, and the
public current price with its prior price."""

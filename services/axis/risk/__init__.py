"""Risk: the pre-trade check chain, limits and profiles, and the position monitor."""

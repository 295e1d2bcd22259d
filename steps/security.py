"""Steps of the security scenarios (to be written)."""

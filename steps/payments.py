"""Steps of the payments scenarios (to be written)."""

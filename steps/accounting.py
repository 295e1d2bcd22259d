"""Steps of the accounting scenarios (to be written)."""

"""Steps of the marketing scenarios (to be written)."""

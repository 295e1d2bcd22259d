"""Steps of the operations scenarios (to be written)."""

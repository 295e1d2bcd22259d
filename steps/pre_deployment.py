"""Steps of the pre_deployment scenarios (to be written)."""

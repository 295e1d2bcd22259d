"""Steps of the performance and load scenarios (features/performance_and_load)."""

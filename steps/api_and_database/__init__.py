"""Steps of the API and database scenarios (features/api_and_database)."""

"""Steps of the code quality, documentation and environment scenarios (features/code_and_docs)."""

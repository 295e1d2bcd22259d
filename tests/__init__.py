"""The project's tests, mirroring src/ path for path."""

"""integration_service."""

"""The PayPal receiver (a second service process with its own database), once per worker for these modules."""

from __future__ import annotations

from tests.integration_service.paypal_helpers import receiver

__all__ = ["receiver"]  # fixtures, used by name

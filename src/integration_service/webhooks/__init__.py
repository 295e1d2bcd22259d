"""Webhook signature verification (one module per provider) and idempotent event application."""

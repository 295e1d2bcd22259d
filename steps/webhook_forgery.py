"""Checklist steps: webhook_forgery (issue 13 hardening)."""

"""Checklist steps: input_limits (issue 13 hardening)."""

"""Checklist steps: sync_races (issue 13 hardening)."""

"""Checklist steps: edge_protection (issue 13 hardening)."""

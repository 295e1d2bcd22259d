"""Foundations every other layer stands on: paths, stages and their settings, the checklist, processes,
TLS, databases. Imports nothing else of the harness."""

"""Stacks the harness starts and drives: the local stack, `invoke up` / `invoke token`, API tokens, the OAuth
flow and webhook forgery against a running stack. Imports `harness.core` only."""

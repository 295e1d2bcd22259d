"""Helpers the step modules share and that define few or no steps: the operations test lab (scratch stages, SQL
seeding), scratch git checkouts, payments and security helpers, the monitor's own-rows queries, the accounting
providers' model.
"""

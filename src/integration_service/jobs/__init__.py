"""Syncs as durable jobs on procrastinate's queue (in the service's own PostgreSQL): requested, scheduled,
run by workers (`invoke worker`), retried when their worker dies."""

"""The sync engine: paginate, upsert, incremental, retry, lock, log."""

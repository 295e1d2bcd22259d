"""API tokens, secret encryption, rate limits and log redaction."""

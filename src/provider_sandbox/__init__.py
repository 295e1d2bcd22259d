"""provider_sandbox."""

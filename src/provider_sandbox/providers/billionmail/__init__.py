"""BillionMail: the self-hosted mail-marketing server's management API (API-key auth)."""

"""Mautic: OAuth 2.0 with rotating refresh tokens and the campaigns/segments/contacts API."""

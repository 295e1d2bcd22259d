"""Xero: identity (OAuth 2.0), connections and the Accounting API (Invoices, Contacts)."""

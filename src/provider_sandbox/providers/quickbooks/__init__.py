"""QuickBooks Online: Intuit OAuth 2.0 and the Accounting API query endpoint."""

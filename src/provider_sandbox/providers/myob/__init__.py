"""MYOB AccountRight Live: OAuth 2.0, company files and Sale/Invoice with OData paging."""

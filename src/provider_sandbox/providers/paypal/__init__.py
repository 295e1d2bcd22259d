"""PayPal: client-credential tokens, Payments v1, Billing v1 and signed webhooks."""

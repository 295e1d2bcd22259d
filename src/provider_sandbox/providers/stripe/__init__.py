"""Stripe: the v1 API (customers, products, prices, payment intents, charges, refunds,
subscriptions, events), signed webhooks and test accounts.
"""

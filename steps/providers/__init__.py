"""Steps of the provider scenarios (features/providers): Xero, MYOB, QuickBooks, Stripe, PayPal, BillionMail,
Mautic, and several integrations side by side.
"""

"""One package per simulated provider: xero, myob, quickbooks (accounting), stripe, paypal
(payments), billionmail, mautic (marketing). Each has simulator.py (the ProviderSimulator) and
routes.py (its route table), plus wire.py, store.py, control.py where the provider needs them.
"""

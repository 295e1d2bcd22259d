"""Offline simulators of the providers the integration service talks to, in one HTTP process.

Each provider keeps its real paths under a per-host prefix, so the service only swaps base URLs:

    Xero        /xero/login/...  (login.xero.com)   /xero/identity/... (identity.xero.com)
                /xero/api/...    (api.xero.com)
    MYOB        /myob/secure/... (secure.myob.com)  /myob/api/...      (api.myob.com)
    QuickBooks  /quickbooks/appcenter/... (appcenter.intuit.com)
                /quickbooks/oauth/...     (oauth.platform.intuit.com)
                /quickbooks/developer/... (developer.api.intuit.com)
                /quickbooks/api/...       (quickbooks.api.intuit.com)
    BillionMail /billionmail/api/...      (self-hosted: https://<instance>/api/...)
    Mautic      /mautic/oauth/v2/..., /mautic/api/...  (self-hosted: https://<instance>/...)
    Stripe      /stripe/v1/...            (api.stripe.com)
    PayPal      /paypal/v1/..., /paypal/checkoutnow  (api-m.sandbox.paypal.com, www.sandbox.paypal.com)
    Control     /_sandbox/...

Layout: core/ holds what every provider shares (framework, routing, oauth, tenants, faults,
webhooks, control API, config); providers/<name>/ holds one provider (simulator.py, routes.py,
wire.py, store.py, control.py as it needs). The full table and layout are in README.md.

This package must not import `integration_service` or
`harness`: it is written from the providers' documentation, not from the service's assumptions.
"""

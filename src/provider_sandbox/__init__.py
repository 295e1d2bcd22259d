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
    Control     /_sandbox/...

The full table is in app.py and README.md. This package must not import `integration_service` or
`harness`: it is written from the providers' documentation, not from the service's assumptions.
"""

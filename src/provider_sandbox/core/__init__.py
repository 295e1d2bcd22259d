"""What every provider simulator shares: the ProviderSimulator contract and Sandbox state (framework),
route tables (routing), OAuth, tenants and seed data, faults, recorded requests, the clock,
webhooks, the `/_sandbox` control API and the configuration.
"""

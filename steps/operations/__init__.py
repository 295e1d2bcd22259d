"""Steps of the operational scenarios (features/operations): staging and production deployments, rollbacks,
monitoring, weekly and monthly checks, sign-offs.
"""

"""pytest-bdd step definitions for the checklist scenarios in `features/` (run by `invoke qa`)."""

"""Operations as code: backup, restore, migrate, smoke, deploy, release, rollback, monitor, sign-off
and the weekly/monthly reports. `tasks.py` parses options; each module here does one procedure."""

"""Defects of this area (see tests/harness/defects/__init__.py): syncs racing writers, crashes and each other."""

from tests.harness.defects import Defect

SYNC_SAFETY_DEFECTS: tuple[Defect, ...] = (
    Defect(
        "watermark-stamped-for-a-switched-account",
        "sync/runs.py",
        # The run stamps last_synced_at whatever account the integration points at by now.
        (
            (
                ".where(credentials.c.id == integration_id, credentials.c.custom_data == dict(account))",
                ".where(credentials.c.id == integration_id)",
            ),
        ),
        "XERO-02",
    ),
    Defect(
        "delete-during-a-sync-not-refused",
        "api/integrations.py",
        (
            (
                "        if not hold_until_commit(connection, integration_id):\n",
                "        if False:  # deletes under a running sync\n",
            ),
        ),
        "INT-05",
    ),
    Defect(
        "sync-concurrency-not-bounded-below-the-pool",
        "worker.py",
        # The worker takes as many syncs at once as it is offered: nothing keeps them below the pool.
        (("    concurrency = concurrency or slots\n", "    concurrency = slots = (concurrency or slots) * 25\n"),),
        "INT-05",
    ),
    Defect(
        "no-startup-sweep-of-interrupted-syncs",
        "app.py",
        (("await _close_interrupted_syncs(engine, settings.sync_stale_after_s)", "await anyio.sleep(0)"),),
        "OPS-ALERTS",
    ),
)

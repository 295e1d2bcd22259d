Feature: Rollback procedure
  When an integration misbehaves, it is disabled, its users are alerted, its logs show why, and once
  the provider recovers a manual sync catches up on what was missed. When a release causes a
  critical issue, the commit that ran before it is deployed again, the database restored, only this
  stage's cache cleared and the system verified.

  @local @OPS-RB-INTEGRATION @xero
  Scenario: A failing Xero integration is disabled, investigated, and resynced without missing or duplicating an invoice
    Given "Ivy" has connected a Xero organisation of 20 invoices and synced them
    When Xero fails every invoice request
    And "Ivy" syncs her Xero invoices 3 times
    Then every one of those syncs was answered as stopped by the provider
    And the alert "Integration sync fails 3 times in a row" names Ivy's Xero integration
    And Ivy's sync logs show Xero's failure for the investigation
    When Ivy's Xero integration is disabled
    Then a sync of Ivy's Xero integration is refused while it is disabled
    When Xero recovers, having gained 5 invoices during the outage
    And Ivy's Xero integration is enabled again and synced by hand
    Then every one of the organisation's 25 invoices is stored once for Ivy

  @local @OPS-RB-CRITICAL
  Scenario: After a critical issue the rollback redeploys the previous commit, restores the database, clears only this stage's cache and verifies the system
    Given a running version deployed from a git checkout onto a scratch database holding customers' data
    And a new commit whose migration changes the schema and the data
    And the new commit was released successfully
    And this stage's cache holds keys, beside another stage's keys
    When the rollback is planned with a dry run
    Then the plan lists the database restore, the redeployment, the cache clearing and the verification
    And the dry run changed nothing
    When the rollback procedure runs
    Then the running version's commit is deployed again, and nothing was reverted or committed in the checkout
    And the scratch database equals what it was before the release, table by table
    And this stage's cache keys are gone while the other stage's keys remain
    And the service deployed last runs the running version's code and answers its health check
    And the rollback is recorded with its outcome

  # On a deployed stage: the scenario's own integration, and a rollback rehearsed without touching the stage.

  @staging @sandbox @xero @OPS-RB-INTEGRATION
  Scenario: On the stage, a user's Xero integration is disabled, shown disabled, investigated, synced by hand and resynced
    Given "Ivy" has connected a Xero organisation of 20 invoices and synced them
    When Ivy's Xero integration is disabled
    Then Ivy sees her Xero integration disabled
    And a sync of Ivy's Xero integration is refused while it is disabled
    And Ivy's sync logs show the sync of her 20 invoices for the investigation
    When Xero gains 5 invoices while the integration is disabled
    And Ivy's Xero integration is enabled again and synced by hand
    Then every one of the organisation's 25 invoices is stored once for Ivy
    When 7 of Ivy's stored invoices are lost and her Xero integration is resynced in full
    Then every one of the organisation's 25 invoices is stored once for Ivy

  @staging @OPS-RB-CRITICAL
  Scenario: A critical issue's rollback, rehearsed off the stage: revert planned from what it runs, database rolled back on a scratch copy, only own cache keys cleared, system verified
    Given "Rex" has an integration of her own on the stage, with two sync logs
    And the stage's database is backed up
    When the rollback of a release from the commit before the stage's to the stage's commit is planned
    Then the plan reverts to the previous commit and redeploys it, restores that backup, clears only this stage's cache and verifies
    And planning changed nothing on the stage
    When the backup is restored into a scratch database of the scenario's own
    And Rex's integration is deleted from the scratch copy
    And the backup is restored over the scratch copy by the restore procedure
    Then the scratch copy holds exactly the rows the backup's manifest counts, Rex's integration among them
    Given keys of the scenario's own under this stage's cache prefix, beside a key of the stage's that is not the scenario's
    When the scenario's cache keys are cleared
    Then the scenario's cache keys are gone while the stage's other key remains
    When the smoke tests run against the stage with Rex's token
    Then every smoke check passed: health, metrics, stripe webhook, paypal webhook, sync logs route, no recent failed syncs

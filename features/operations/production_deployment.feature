Feature: Production deployment
  Production gets a commit only after staging passed on that very commit and every approval is
  recorded; its database is backed up and migrated without losing data; its settings are fit for
  production; it is deployed after a typed confirmation; it is verified after the deployment; and a
  release that fails is rolled back. Procedures run on scratch databases and scratch checkouts.

  @local @OPS-PRD-VERIFY
  Scenario: A production release is refused until staging passed on the same commit and every approval is recorded
    Given a production release of the current commit, with production's last deployment recorded
    Then the production release is refused, naming "no passing staging gate"
    And the refusal also names "sign-offs missing"
    When staging's release gate passed on another commit
    Then the production release is refused, naming "no passing staging gate"
    When staging's release gate failed on the current commit
    Then the production release is refused, naming "no passing staging gate"
    When staging's release gate passed on the current commit
    Then the production release is refused, naming "sign-offs missing"
    When every attestation of the checklist is recorded for the current commit
    Then the production release goes ahead

  # On production itself the gate only reads: the stage's gate store, its database, its service.
  @production @OPS-PRD-VERIFY
  Scenario: Production runs a commit whose staging gate passed and whose approvals are all recorded
    Then the gate store holds a complete, passing staging gate of the commit under test
    And the gate store holds every attestation of the checklist for the commit under test

  @local @OPS-PRD-DB
  Scenario: The production migration backs up first, and a migration that loses rows is stopped and undone from the backup
    Given a scratch production database at the newest migration from a git checkout, holding customers' integrations and sync logs
    And a new commit in the checkout whose migration deletes the failed sync logs
    When the production migration procedure runs the new commit's migration
    Then the procedure stops, reporting that "integrations_sync_logs" lost rows
    And the backup taken before the migration counts every row that was there
    When that backup is restored over the scratch production database
    Then every row that was there before the migration is back

  @production @OPS-PRD-DB
  Scenario: Production's database is at the release's newest migration, migrated after a backup of it
    When the migration revision of the stage database is read
    Then it is the newest migration of the checkout being released
    And the release of the commit under test to the stage took a backup before migrating to that revision

  @local @OPS-PRD-ENV
  Scenario: The service refuses to start as production with PayPal in live mode and no webhook id to verify its events
    Given service settings for production with its own OAuth app, PayPal in live mode, HTTPS addresses and a generated encryption key
    When the setting PAYPAL_WEBHOOK_ID is set to ""
    And the code is deployed with those settings on a scratch database
    Then the service refused to start, saying "PAYPAL_MODE=live needs PAYPAL_WEBHOOK_ID"

  @local @OPS-PRD-ENV
  Scenario: With complete production settings the service starts and is healthy
    Given service settings for production with its own OAuth app, PayPal in live mode, HTTPS addresses and a generated encryption key
    When the code is deployed with those settings on a scratch database
    Then the deployed service answers its health check with its database reachable

  @production @OPS-PRD-ENV
  Scenario: Production's service holds its credentials and runs in production mode
    When "Ops" asks the service for its configuration report
    Then the service runs as "production" with every setting it needs set and valid, and PayPal's mode as production requires of the stage's PayPal, among them:
      | setting                  |
      | ENCRYPTION_KEYS          |
      | PUBLIC_URL               |
      | XERO_CLIENT_ID           |
      | XERO_CLIENT_SECRET       |
      | MYOB_CLIENT_ID           |
      | MYOB_CLIENT_SECRET       |
      | QUICKBOOKS_CLIENT_ID     |
      | QUICKBOOKS_CLIENT_SECRET |
      | STRIPE_WEBHOOK_SECRETS   |
      | PAYPAL_MODE              |
      | PAYPAL_WEBHOOK_ID        |
    And the report shows no setting's value

  @production @OPS-PRD-DEPLOY
  Scenario: Production runs the build of the commit under test
    When the stage is asked which build it runs
    Then it runs the commit under test, as "production"

  @local @OPS-PRD-DEPLOY
  Scenario: Production is deployed through its deploy command only after a typed confirmation, and the deployment is recorded
    Given production's deploy command writes the commit it is asked to deploy to a file
    When the operator deploys to production and types "staging" at the confirmation
    Then nothing was deployed to production
    When the operator deploys to production and types "production" at the confirmation
    Then the deploy command was given the checkout's commit
    And the deploy log records the checkout's commit as deployed to production

  @local @staging @production @OPS-PRD-POST
  Scenario: After a deployment the running service is healthy, exposes its metrics, and its daily checks can be read
    When the post-deployment checks run against the stage
    Then the post-deployment checks "health" and "metrics" passed
    And the daily checks and every alert rule were evaluated on the stage's database

  @local @OPS-PRD-POST
  Scenario: A failed sync after a deployment fails the post-deployment checks
    Given the code deployed to the scratch stage, pointed at the provider sandbox
    When the smoke tests run against the scratch stage
    Then every smoke check passed: health, metrics, sync logs route, no recent failed syncs
    When a sync on the scratch stage fails
    And the smoke tests run against the scratch stage
    Then the smoke check "no recent failed syncs" failed, reporting "1 failed sync(s)"
    And the smoke checks "health" and "metrics" still passed

  @local @OPS-ROLLBACK-PLAN
  Scenario: A release that fails its checks after deployment is rolled back: database restored, previous commit redeployed, rollback recorded
    Given a running version deployed from a git checkout onto a scratch database holding customers' data
    And a new commit whose migration changes the schema and the data, and whose sync-logs route is broken
    When the new commit is released
    Then the release failed its smoke tests and was rolled back automatically
    And the running version's commit is deployed again, and nothing was reverted or committed in the checkout
    And the scratch database equals what it was before the release, table by table
    And the service deployed last runs the running version's code and answers its health check
    And the rollback is recorded with its outcome

  @staging @OPS-ROLLBACK-PLAN
  Scenario: The rollback plan is made from what the stage runs, without executing it: revert target, redeployed commit, backup to restore, who is notified
    Given "Noa" has an integration of her own on the stage, with two sync logs
    And the stage's database is backed up
    When the rollback of a release from the commit before the stage's to the stage's commit is planned
    Then the plan reverts to the previous commit and redeploys it, restores that backup, clears only this stage's cache and verifies
    And the plan notifies the on-call channel and Noa, whose integration is active on the stage
    And planning changed nothing on the stage

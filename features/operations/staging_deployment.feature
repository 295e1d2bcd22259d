Feature: Staging deployment
  Before new code reaches staging, its database is backed up, migrated and verified; the stage's
  settings are checked; the code is deployed and the deployment recorded; and smoke tests prove that
  the deployed service syncs a Xero organisation and accepts genuine Stripe and PayPal webhooks.
  Each procedure runs the real operation on a scratch copy of the stage's database, never on the
  stage's live database.

  @local @OPS-STG-MIGRATE
  Scenario: The database is backed up, migrated to the newest schema and verified without losing a row
    Given a scratch database one migration behind the code, holding a customer's integration, sync logs and invoices
    When the migration procedure runs on the scratch database
    Then a backup was taken before the migration, its manifest counting every row that was there
    And the backup restores into a fresh database with exactly the rows its manifest counts
    And the scratch database is at the code's newest migration and its schema matches the code's models
    And every table of the scratch database kept all of its rows

  @local @OPS-STG-ENV
  Scenario: The service refuses to start as staging with the encryption key copied from the example env file
    Given service settings for staging with its own OAuth app, PayPal in sandbox mode, HTTPS addresses and a generated encryption key
    When the setting ENCRYPTION_KEYS is set to "the key from .env.example"
    And the code is deployed with those settings on a scratch database
    Then the service refused to start, saying "ENCRYPTION_KEYS contains the public development key"

  @local @OPS-STG-ENV
  Scenario: With complete staging settings the service starts and is healthy
    Given service settings for staging with its own OAuth app, PayPal in sandbox mode, HTTPS addresses and a generated encryption key
    When the code is deployed with those settings on a scratch database
    Then the deployed service answers its health check with its database reachable

  @local @OPS-STG-DEPLOY
  Scenario: The code is deployed, each deployment is recorded, and a new deployment replaces the running one
    Given a scratch database at the code's newest migration
    When the code is deployed to the scratch stage
    And the code is deployed to the scratch stage again
    Then the deploy log records both deployments of the checkout's commit
    And only the newest deployment's service is running, and it answers its health check

  @local @OPS-STG-SMOKE @xero @stripe @paypal
  Scenario: Smoke tests prove the deployed service syncs Xero and accepts genuine Stripe and PayPal webhooks
    Given the code deployed to the scratch stage, pointed at the provider sandbox
    And "Sam" on the scratch stage has connected a Xero organisation of 12 invoices
    When the smoke tests run against the scratch stage with Sam's token and Xero integration
    Then every smoke check passed: health, metrics, sync, stripe webhook, sync logs route, no recent failed syncs
    And Sam's 12 Xero invoices are stored on the scratch stage
    When a buyer pays "Sam" 25.00 USD through PayPal and PayPal's signed webhook for the sale is delivered
    Then the scratch stage verified and recorded PayPal's "PAYMENT.SALE.COMPLETED" event for the sale

  # On a deployed stage: nothing is deployed, migrated or restored there; the stage is read, its database is
  # backed up and the backup restored and migrated on scratch databases of the scenario's own.

  @staging @OPS-STG-DEPLOY @OPS-STG-MIGRATE
  Scenario: The stage runs the commit under test, healthy, with its database at the checkout's newest migration
    When the stage is asked which build it runs
    Then the stage runs the checkout's commit as "staging"
    And the stage answers its health check with its database reachable
    And the stage's database is at the checkout's newest migration and its schema matches the code's models

  @staging @OPS-STG-MIGRATE
  Scenario: The stage's database is backed up, the backup restores into a scratch copy, and the checkout's migrations verify on it
    Given "Mia" has an integration of her own on the stage, with two sync logs
    When the stage's database is backed up
    Then the backup's manifest names the stage's migration revision and the checkout's commit
    When the backup is restored into a scratch database of the scenario's own
    Then the scratch copy holds exactly the rows the backup's manifest counts, Mia's integration among them
    When the checkout's migrations are run on the scratch copy
    Then the scratch copy is at the code's newest migration, its schema matches the code's models, and no table lost a row

  @staging @sandbox @paypal @OPS-STG-ENV
  Scenario: The stage runs as staging with every setting it needs set and valid, and PayPal in sandbox mode
    When "Ops" asks the service for its configuration report
    Then the service runs as "staging" and reports every setting it needs set and valid, among them:
      | setting                |
      | ENCRYPTION_KEYS        |
      | PUBLIC_URL             |
      | BUILD_SHA              |
      | XERO_CLIENT_ID         |
      | XERO_CLIENT_SECRET     |
      | STRIPE_WEBHOOK_SECRETS |
      | STRIPE_API_BASE_URL    |
      | PAYPAL_MODE            |
      | PAYPAL_WEBHOOK_ID      |
    And the report shows no setting's value
    When "Ops" starts a PayPal payment on the stage
    Then the buyer is sent to PayPal's sandbox to approve it, not to live PayPal

  @staging @sandbox @xero @stripe @paypal @OPS-STG-SMOKE
  Scenario: Smoke tests pass on the stage with a user of the scenario's own: Xero sync, a signed Stripe webhook, a signed PayPal webhook
    Given "Sam" has connected a Xero organisation of 12 invoices on the stage
    When the smoke tests run against the stage with Sam's token and Xero integration
    Then every smoke check passed: health, metrics, sync, stripe webhook, paypal webhook, sync logs route, no recent failed syncs
    And Sam's 12 Xero invoices are stored on the stage
    When a buyer pays "Sam" 25.00 USD through PayPal and PayPal's signed webhook for the sale is delivered to the stage
    Then the stage verified and recorded PayPal's "PAYMENT.SALE.COMPLETED" event for the sale

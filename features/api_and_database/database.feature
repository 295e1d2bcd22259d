Feature: Database
  The live database is at the newest migration of the release with no drift from the code, its
  indexes serve the checklist's queries, and every reference between tables is a foreign key with
  no orphan rows. Everything here only reads the stage's database, except one rolled-back insert.

  @DB-01 @local @staging @production
  Scenario: The live schema is at the newest migration of the release
    When the migration revision of the stage database is read
    Then it is the newest migration of the checkout being released
    And the service's health check reports the schema at head

  @DB-02 @local @staging @production
  Scenario: The live schema matches the migrations and the code's table definitions
    When Alembic compares the stage database with the checkout's schema
    Then Alembic finds no difference between them

  @DB-02 @local
  Scenario: A schema changed behind the migrations' back is caught as drift
    Given a scratch database migrated to the newest migration
    And a column added to "integrations_credentials" of the scratch database by hand
    When Alembic compares the scratch database with the checkout's schema
    Then Alembic reports the drift on "integrations_credentials"

  @DB-03 @PERF-02 @local @staging @production
  Scenario Outline: The checklist's and the service's queries are served by an index
    When the planner explains "<query>" with sequential scans discouraged
    Then the plan reads <table> through an index led by one of: <columns>

    Examples: the checklist's database testing and daily checks
      | query                                                                                                                                                                    | table                    | columns                     |
      | SELECT * FROM integrations_Credentials WHERE user_id = 'xxx'                                                                                                             | integrations_credentials | user_id                     |
      | SELECT COUNT(*) FROM xero_Invoices WHERE xero_invoice_id IS NULL                                                                                                         | xero_invoices            | xero_invoice_id             |
      | SELECT integration_type, sync_status, COUNT(*) FROM integrations_Credentials GROUP BY integration_type, sync_status                                                      | integrations_credentials | integration_type            |
      | SELECT integration_type, COUNT(*) as errors FROM integrations_Sync_Logs WHERE status = 'failed' AND created_at > NOW() - INTERVAL '24 hours' GROUP BY integration_type | integrations_sync_logs   | status, created_at          |
      | SELECT integration_type, COUNT(*) FROM integrations_Sync_Logs WHERE sync_type IN ('webhook', 'event') AND created_at > NOW() - INTERVAL '24 hours' GROUP BY integration_type | integrations_sync_logs | sync_type, created_at       |

    Examples: the service's own reads
      | query                                                                                                   | table                  | columns                 |
      | SELECT * FROM integrations_sync_logs WHERE user_id = 'xxx' ORDER BY created_at DESC LIMIT 50             | integrations_sync_logs | user_id                 |
      | SELECT * FROM integrations_sync_logs WHERE integration_id = '00000000-0000-4000-8000-000000000000' ORDER BY created_at DESC LIMIT 50 | integrations_sync_logs | integration_id |
      | SELECT * FROM xero_invoices WHERE integration_id = '00000000-0000-4000-8000-000000000000' LIMIT 50         | xero_invoices          | integration_id          |
      | SELECT * FROM stripe_payments WHERE integration_id = '00000000-0000-4000-8000-000000000000' LIMIT 50       | stripe_payments        | integration_id          |

  @DB-04 @local @staging @production
  Scenario: Every reference between tables is a foreign key and no row is an orphan
    When the columns and constraints of the stage database are read
    Then every "user_id" column is a foreign key to "users"
    And every "integration_id" column is a foreign key to "integrations_credentials"
    And every foreign key is validated
    And no row points at a parent that does not exist

  @DB-04 @local @staging
  Scenario: The database refuses an invoice of an integration that does not exist
    When a Xero invoice of an integration that does not exist is inserted, then rolled back
    Then the database refuses it as a foreign key violation

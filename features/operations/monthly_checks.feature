Feature: Monthly checks
  The monthly report (`invoke report monthly`) adds the month's usage statistics, the weekly trend of
  sync performance and the dependency audit; the documentation keeps up with what the service
  offers; and the maintenance-window planning is attested for the commit being released.

  @local @MONTH-01
  Scenario: The monthly report counts each integration type's users, syncs and synced records over 30 days
    Given a scratch database at the code's newest migration
    And the scratch database holds these sync logs:
      | integration | owner | type   | status  | records | age     |
      | books       | ann   | XERO   | success | 120     | 1 day   |
      | books       | ann   | XERO   | success | 30      | 10 days |
      | ledger      | bob   | XERO   | failed  | 0       | 2 days  |
      | charges     | ann   | STRIPE | success | 7       | 3 days  |
      | books       | ann   | XERO   | success | 999     | 40 days |
    When the monthly report is built from the scratch database
    Then the report section "usage statistics (30 days)" shows:
      | integration_type | users | syncs | records |
      | STRIPE           | 1     | 1     | 7       |
      | XERO             | 2     | 3     | 150     |

  @local @MONTH-02
  Scenario: The monthly report shows the weekly trend of sync durations, average and 95th percentile
    Given a scratch database at the code's newest migration
    And the scratch database holds these sync logs:
      | integration | type | status  | duration | age     |
      | books       | XERO | success | 1000 ms  | 15 days |
      | books       | XERO | success | 2000 ms  | 15 days |
      | books       | XERO | success | 3000 ms  | 15 days |
      | books       | XERO | success | 400 ms   | 1 day   |
      | books       | XERO | success | 600 ms   | 1 day   |
      | books       | XERO | success | 9000 ms  | 45 days |
    When the monthly report is built from the scratch database
    Then the sync performance trend for XERO in the week of the syncs 15 days ago shows 3 syncs, 2000 ms on average, 2900 ms at the 95th percentile
    And the sync performance trend for XERO in the week of the syncs 1 day ago shows 2 syncs, 500 ms on average, 590 ms at the 95th percentile
    And the sync performance trend has no week older than 30 days

  @local @staging @sandbox @xero @myob @MONTH-01
  Scenario: On the stage, the monthly report counts the users, syncs and records of users' own syncs
    Given a user "Uma" signed in with an API token
    And a user "Vic" signed in with an API token
    And Xero has a organisation "Usage Books" with 12 invoices
    And "Uma" has connected Xero to "Usage Books"
    And Xero has a organisation "Usage Traders" with 7 invoices
    And "Vic" has connected Xero to "Usage Traders"
    And MYOB has a company file "Usage Ledger" with 5 invoices
    And "Vic" has connected MYOB to "Usage Ledger"
    When "Uma" syncs the invoices of "Usage Books"
    And "Vic" syncs the invoices of "Usage Traders"
    And "Vic" syncs the invoices of "Usage Ledger"
    And the monthly report is built from the stage
    Then the report section "usage statistics (30 days)" on the stage covers the scenario's own rows:
      | integration_type | users | syncs | records |
      | MYOB             | 1     | 1     | 5       |
      | XERO             | 2     | 2     | 19      |

  @local @staging @sandbox @xero @MONTH-02
  Scenario: On the stage, the monthly report's weekly sync performance trend gives the average and 95th percentile of users' own sync durations
    Given a user "Uma" signed in with an API token
    And a user "Vic" signed in with an API token
    And Xero has a organisation "Trend Books" with 150 invoices
    And "Uma" has connected Xero to "Trend Books"
    And Xero has a organisation "Trend Traders" with 20 invoices
    And "Vic" has connected Xero to "Trend Traders"
    When "Uma" syncs the invoices of "Trend Books"
    And "Uma" syncs the invoices of "Trend Books" again, asking for a full resync
    And "Vic" syncs the invoices of "Trend Traders"
    And the monthly report is built from the stage
    Then the report's sync performance trend on the stage shows this week's XERO syncs of "Trend Books" and "Trend Traders" with the average and 95th percentile of their logged durations

  @local @staging @production @MONTH-03
  Scenario: The documentation covers every route the running service offers and every integration it accepts
    When the service's OpenAPI schema is read from the stage
    Then every route of the schema is documented in INTEGRATIONS.md or README.md
    And every integration type the service accepts has its own section in INTEGRATIONS.md

  @local @MONTH-04
  Scenario: Planning the maintenance windows is attested for the commit, and production is refused without it
    Given a production release of the current commit, with production's last deployment recorded
    And staging's release gate passed on the current commit
    And every attestation of the checklist is recorded for the current commit except "MONTH-04"
    Then the production release is refused, naming the missing "maintenance" attestation
    When "Morgan Lee" records the "maintenance" sign-off for another commit
    Then the production release is refused, naming the missing "maintenance" attestation
    When "Morgan Lee" records the "maintenance" sign-off for the current commit
    Then the "maintenance" sign-off by "Morgan Lee" is recorded for the current commit
    And the release report shows "MONTH-04" as attested by "Morgan Lee"
    And the production release goes ahead

  @local @MONTH-05 @production @staging
  Scenario: The monthly report audits the dependencies for known vulnerabilities
    When the monthly report is built with its dependency audit
    Then the dependency audit found no known vulnerability, or says clearly why it could not tell

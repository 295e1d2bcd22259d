@local
Feature: Monitoring
  The daily checks count each integration's sync status, the last day's sync errors and webhooks;
  each of the seven alert rules fires on data built to trigger it, and none fires on a healthy day.
  They run on scratch databases holding exactly the data each scenario describes; on a deployed stage
  they run on the stage itself, after the scenario's own users made the evidence through the service, and
  must cover it: over the scenario's own rows exactly, on the whole stage at least as often.

  @OPS-DAILY
  Scenario: The daily checks count sync status, the last day's errors and the last day's webhooks
    Given a scratch database at the code's newest migration
    And the scratch database holds these integrations:
      | name    | type   | sync status |
      | books   | XERO   | IDLE        |
      | ledger  | XERO   | ERROR       |
      | charges | STRIPE | IDLE        |
    And the scratch database holds these sync logs:
      | integration | status  | error                 | age     |
      | books       | failed  | HTTP 503 from Xero    | 1 hour  |
      | ledger      | failed  | token refresh failed  | 2 hours |
      | books       | failed  | HTTP 503 from Xero    | 2 days  |
      | charges     | success |                       | 1 hour  |
    And the scratch database holds these webhook events:
      | provider | outcome   | age    | processing |
      | stripe   | applied   | 1 hour | 2 seconds  |
      | stripe   | applied   | 1 hour | 4 seconds  |
      | paypal   | unmatched | 1 hour | 1 second   |
      | paypal   | applied   | 3 days | 1 second   |
    When the daily checks run on the scratch database
    Then the daily check "sync status by integration" shows:
      | integration_type | sync_status | count |
      | STRIPE           | IDLE        | 1     |
      | XERO             | ERROR       | 1     |
      | XERO             | IDLE        | 1     |
    And the daily check "errors in the last 24 h" shows:
      | integration_type | errors |
      | XERO             | 2      |
    And the daily check "webhook processing in the last 24 h" shows:
      | provider | outcome   | count | avg_ms |
      | paypal   | unmatched | 1     | 1000   |
      | stripe   | applied   | 2     | 3000   |

  @OPS-DAILY @staging @sandbox @xero @myob @stripe
  Scenario: On the stage, the daily checks count a user's own integrations, sync errors and webhooks
    Given a user "Dana" signed in with an API token
    And Xero has a organisation "Daily Books" with 12 invoices
    And "Dana" has connected Xero to "Daily Books"
    And MYOB has a company file "Daily Ledger" with 5 invoices
    And "Dana" has connected MYOB to "Daily Ledger"
    And MYOB refuses every request for "Daily Ledger"
    And "Dana" has connected a new Stripe account
    And "Dana" took a card payment of 5000 cents through the service
    When "Dana" syncs the invoices of "Daily Books"
    And "Dana" syncs the invoices of "Daily Ledger" 2 times, each one stopped
    And Stripe delivers its charge.succeeded event about the payment to the webhook
    And the daily checks run on the stage
    Then the daily check "sync status by integration" on the stage covers the scenario's own rows:
      | integration_type | sync_status | count |
      | MYOB             | ERROR       | 1     |
      | STRIPE           | IDLE        | 1     |
      | XERO             | SUCCESS     | 1     |
    And the daily check "errors in the last 24 h" on the stage covers the scenario's own rows:
      | integration_type | errors |
      | MYOB             | 2      |
    And the daily check "webhook processing in the last 24 h" on the stage covers the scenario's own rows:
      | provider | outcome | count |
      | stripe   | applied | 1     |

  @OPS-ALERTS
  Scenario Outline: The alert "<alert>" fires on data built to trigger it, and no other alert does
    Given a scratch database at the code's newest migration
    And the scratch database holds a healthy day of syncs and webhooks
    And the scratch database holds <trigger>, built to trigger "<rule>"
    When the alert rules are evaluated on the scratch database
    Then only the alert "<rule>" fires

    Examples:
      | alert                                    | rule                       | trigger                                                       |
      | Integration sync fails 3 times in a row  | sync_failed_3_times        | a MYOB integration whose last three syncs failed               |
      | Webhook processing latency > 5 seconds   | webhook_latency            | a PayPal webhook that took 6 seconds to apply                  |
      | Database connection pool near limit      | database_pool              | 4 open connections against a connection pool of 5             |
      | API rate limits exceeded                 | rate_limits                | a Xero sync stopped by HTTP 429                                |
      | Token refresh failing repeatedly         | token_refresh              | a QuickBooks integration whose token refresh failed 3 times   |
      | Payment processing failures              | payment_failures           | a failed Stripe payment                                        |
      | Subscription sync failures               | subscription_sync_failures | a failed PayPal subscription sync                             |
      | Sync stuck running longer than N minutes | sync_stuck_running         | a Xero sync whose last progress was 45 minutes ago            |

  @OPS-ALERTS @xero
  Scenario: A sync cut short by a killed service shows as stuck, and is closed as interrupted when the service starts again
    Given a user "Alice" signed in with an API token
    And Xero has a organisation "Driftwood Supplies" with 300 invoices
    And "Alice" has connected Xero to "Driftwood Supplies"
    And Xero answers page 2 of the invoices only after 30000 ms
    And a service instance of the stage's own, on its database and provider sandbox
    When "Alice" starts a sync of "Driftwood Supplies" on that instance, which is killed with SIGKILL once the first page is stored
    Then the latest sync log of "Driftwood Supplies" is left "running"
    And the alert "sync_stuck_running" fires for "Driftwood Supplies" when 0 minutes without progress count as stuck
    When the instance is started again
    Then the latest sync log of "Driftwood Supplies" is "failed", completed, with an error starting "interrupted:"
    And the integration of "Driftwood Supplies" shows the sync status "ERROR", saying the sync was interrupted
    And the alert "sync_stuck_running" does not fire for "Driftwood Supplies" when 0 minutes without progress count as stuck
    When "Alice" syncs the invoices of "Driftwood Supplies" again
    Then the sync succeeds with 300 invoices

  @OPS-ALERTS @billionmail
  Scenario: Scheduled syncs that keep failing fire "fails 3 times in a row", and the integration is paused, saying why
    Given a service instance with a database of its own that syncs every integration every second and pauses one after 3 failures in a row
    And a user "Priya" of that instance has connected BillionMail, whose API key was then rotated at the BillionMail instance
    When the schedule has synced the integration of "Priya" until it is paused
    Then the sync logs of "Priya" are 3 runs the schedule asked for, each "failed", and no more follow
    And the integration of "Priya" shows the sync status "ERROR", saying it was paused after 3 failed syncs in a row
    When the alert rules are evaluated on the scratch database
    Then only the alert "sync_failed_3_times" fires

  @OPS-ALERTS @staging @sandbox @xero @myob @quickbooks @stripe
  Scenario: On the stage, the alert rules fire on a user's own failing syncs, refused token refreshes, rate limits and declined payments
    Given a user "Omar" signed in with an API token
    And MYOB has a company file "Alert Ledger" with 5 invoices
    And "Omar" has connected MYOB to "Alert Ledger"
    And MYOB refuses every request for "Alert Ledger"
    And Xero has a organisation "Alert Books" with 5 invoices
    And "Omar" has connected Xero to "Alert Books"
    And QuickBooks has a company "Alert Company" with 5 invoices
    And "Omar" has connected QuickBooks to "Alert Company"
    And QuickBooks rate-limits every request for "Alert Company" for an hour
    And "Omar" has connected a new Stripe account
    And a card payment of 5000 cents by "Omar" was declined through the service
    When "Omar" syncs the invoices of "Alert Ledger" 3 times, each one stopped
    And Xero revokes the connection to "Alert Books"
    And "Omar" syncs the invoices of "Alert Books" 3 times, each one stopped
    And "Omar" syncs the invoices of "Alert Company" 1 time, each one stopped
    And the alert rules are evaluated on the stage
    Then the alert "sync_failed_3_times" fires on the stage, naming the integration of "Alert Ledger"
    And the alert "sync_failed_3_times" does not name the integration of "Alert Company"
    And the alert "token_refresh" fires on the stage, naming the integration of "Alert Books"
    And the alert "token_refresh" does not name the integration of "Alert Ledger"
    And the alert "rate_limits" fires on the stage, covering the scenario's own rows:
      | integration_type | rate_limited |
      | QUICKBOOKS       | 1            |
    And the alert "payment_failures" fires on the stage, covering the scenario's own rows:
      | source          | failures |
      | stripe_payments | 1        |

  @OPS-ALERTS
  Scenario: No alert fires on a healthy day
    Given a scratch database at the code's newest migration
    And the scratch database holds a healthy day of syncs and webhooks
    When the alert rules are evaluated on the scratch database
    Then no alert fires

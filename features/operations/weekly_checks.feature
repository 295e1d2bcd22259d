@local
Feature: Weekly checks
  The weekly report (`invoke report weekly`) reviews the week's sync logs: error patterns, the token
  refresh success rate, rate-limit hits, the error messages to fix, and which integrations are
  operational. Each scenario builds the report from a scratch database holding exactly its data, or, on a
  deployed stage, from the stage itself after the scenario's own users made the evidence through the
  service: the report must cover it, over the scenario's own rows exactly, on the whole stage at least.

  @WEEK-01
  Scenario: The weekly report groups the week's failed and partial syncs into patterns, most frequent first
    Given a scratch database at the code's newest migration
    And the scratch database holds these sync logs:
      | integration | type   | status  | error                          | age     |
      | books       | XERO   | failed  | HTTP 503 from Xero             | 1 day   |
      | books       | XERO   | failed  | HTTP 503 from Xero             | 2 days  |
      | ledger      | XERO   | failed  | HTTP 503 from Xero             | 3 days  |
      | files       | MYOB   | partial | HTTP 403 RateLimitError        | 1 day   |
      | books       | XERO   | failed  | HTTP 503 from Xero             | 9 days  |
      | books       | XERO   | success |                                | 1 day   |
    When the weekly report is built from the scratch database
    Then the report section "sync-log error patterns (7 days)" shows:
      | integration_type | error                   | count |
      | XERO             | HTTP 503 from Xero      | 3     |
      | MYOB             | HTTP 403 RateLimitError | 1     |
    And the first pattern of "sync-log error patterns (7 days)" is the most frequent one

  @WEEK-02
  Scenario: The weekly report gives each integration type's token refresh success rate
    Given a scratch database at the code's newest migration
    And the scratch database holds these sync logs:
      | integration | type       | status  | error                                                  | age    |
      | company     | QUICKBOOKS | failed  | token refresh failed: the provider refused (invalid_grant) | 1 day  |
      | company     | QUICKBOOKS | success |                                                        | 2 days |
      | company     | QUICKBOOKS | success |                                                        | 3 days |
      | company     | QUICKBOOKS | success |                                                        | 4 days |
      | books       | XERO       | success |                                                        | 1 day  |
      | books       | XERO       | failed  | token refresh failed: invalid_grant                    | 8 days |
    When the weekly report is built from the scratch database
    Then the report section "token refresh success rate (7 days)" shows:
      | integration_type | refresh_failures | syncs |
      | QUICKBOOKS       | 1                | 4     |
      | XERO             | 0                | 1     |
    And the token refresh success rate of QUICKBOOKS is 75 %

  @WEEK-03
  Scenario: The weekly report counts the week's provider rate-limit hits per integration type
    Given a scratch database at the code's newest migration
    And the scratch database holds these sync logs:
      | integration | type       | status  | error                                    | age    |
      | books       | XERO       | partial | HTTP 429 (Retry-After 3600 s)            | 1 day  |
      | books       | XERO       | failed  | HTTP 429 Too Many Requests               | 2 days |
      | company     | QUICKBOOKS | failed  | QuickBooks rate limit exceeded (3001)    | 1 day  |
      | company     | QUICKBOOKS | failed  | HTTP 500                                 | 1 day  |
      | books       | XERO       | failed  | HTTP 429 Too Many Requests               | 10 days |
    When the weekly report is built from the scratch database
    Then the report section "rate-limit hits (7 days)" shows:
      | integration_type | hits |
      | QUICKBOOKS       | 1    |
      | XERO             | 2    |

  @WEEK-04
  Scenario: The weekly report lists every distinct error message to fix, cut to a readable length
    Given a scratch database at the code's newest migration
    And the scratch database holds these sync logs:
      | integration | type    | status | error                                                                                                  | age   |
      | list        | MAUTIC  | failed | HTTP 403 API disabled: the API is switched off in Mautic's configuration; enable it under API Settings now | 1 day |
      | mail        | BILLIONMAIL | failed | billionmail refused the API key (code 401)                                                          | 1 day |
    When the weekly report is built from the scratch database
    Then the report section "sync-log error patterns (7 days)" shows:
      | integration_type | error                                                                            | count |
      | MAUTIC           | HTTP 403 API disabled: the API is switched off in Mautic's configuration; enable | 1     |
      | BILLIONMAIL      | billionmail refused the API key (code 401)                                       | 1     |

  @WEEK-05
  Scenario: The weekly report counts the integrations that are operational: enabled and not in error
    Given a scratch database at the code's newest migration
    And the scratch database holds these integrations:
      | name     | type   | sync status | active |
      | books    | XERO   | IDLE        | yes    |
      | ledger   | XERO   | ERROR       | yes    |
      | archive  | XERO   | IDLE        | no     |
      | charges  | STRIPE | SUCCESS     | yes    |
    When the weekly report is built from the scratch database
    Then the report section "integrations operational" shows:
      | integration_type | operational | total |
      | STRIPE           | 1           | 1     |
      | XERO             | 1           | 3     |

  @WEEK-01 @WEEK-04 @staging @sandbox @xero @myob
  Scenario: On the stage, the weekly report shows a user's repeated sync failure as one pattern, its message cut to a readable length
    Given a user "Wren" signed in with an API token
    And Xero has a organisation "Weekly Books" with 8 invoices
    And "Wren" has connected Xero to "Weekly Books"
    And MYOB has a company file "Weekly Ledger" with 5 invoices
    And "Wren" has connected MYOB to "Weekly Ledger"
    And MYOB refuses every request for "Weekly Ledger" saying "the company file is locked for end-of-year processing"
    When "Wren" syncs the invoices of "Weekly Books"
    And "Wren" syncs the invoices of "Weekly Ledger" 3 times, each one stopped
    And the weekly report is built from the stage
    Then the report's error patterns on the stage show the 3 failures of "Weekly Ledger" as their sync logs give them, cut to 80 characters
    And the report section "sync-log error patterns (7 days)" on the stage covers the scenario's own rows:
      | integration_type | count |
      | MYOB             | 3     |

  @WEEK-02 @staging @sandbox @xero
  Scenario: On the stage, the weekly report counts a user's refused token refresh against its syncs, and the service's refresh counters
    Given a user "Wren" signed in with an API token
    And the token refresh counters of the stage's service are noted
    And Xero has a organisation "Refresh Books" with 6 invoices
    And "Wren" has connected Xero to "Refresh Books"
    When Xero expires the access tokens it issued
    And "Wren" syncs the invoices of "Refresh Books"
    Then the sync succeeds with 6 invoices
    When Xero revokes the connection to "Refresh Books"
    And "Wren" syncs the invoices of "Refresh Books" 1 time, each one stopped
    And the weekly report is built from the stage
    Then the report section "token refresh success rate (7 days)" on the stage covers the scenario's own rows:
      | integration_type | refresh_failures | syncs |
      | XERO             | 1                | 2     |
    And the report's token refresh counts from the stage's service grew by at least 1 succeeded and 1 failed

  @WEEK-03 @staging @sandbox @xero @quickbooks
  Scenario: On the stage, the weekly report counts a user's syncs stopped by a provider's rate limit
    Given a user "Wren" signed in with an API token
    And QuickBooks has a company "Busy Company" with 5 invoices
    And "Wren" has connected QuickBooks to "Busy Company"
    And QuickBooks rate-limits every request for "Busy Company" for an hour
    And Xero has a organisation "Quiet Books" with 5 invoices
    And "Wren" has connected Xero to "Quiet Books"
    When "Wren" syncs the invoices of "Busy Company" 2 times, each one stopped
    And "Wren" syncs the invoices of "Quiet Books"
    And the weekly report is built from the stage
    Then the report section "rate-limit hits (7 days)" on the stage covers the scenario's own rows:
      | integration_type | hits |
      | QUICKBOOKS       | 2    |

  @WEEK-05 @staging @sandbox @xero @myob
  Scenario: On the stage, the weekly report counts a user's integrations as operational only when enabled and not in error
    Given a user "Wren" signed in with an API token
    And Xero has a organisation "Working Books" with 5 invoices
    And "Wren" has connected Xero to "Working Books"
    And Xero has a organisation "Archived Books" with 5 invoices
    And "Wren" has connected Xero to "Archived Books"
    And "Wren" has disabled the integration of "Archived Books"
    And MYOB has a company file "Broken Ledger" with 5 invoices
    And "Wren" has connected MYOB to "Broken Ledger"
    And MYOB refuses every request for "Broken Ledger"
    When "Wren" syncs the invoices of "Working Books"
    And "Wren" syncs the invoices of "Broken Ledger" 1 time, each one stopped
    And the weekly report is built from the stage
    Then the report section "integrations operational" on the stage covers the scenario's own rows:
      | integration_type | operational | total |
      | MYOB             | 0           | 1     |
      | XERO             | 1           | 2     |

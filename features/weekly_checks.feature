@local
Feature: Weekly checks
  The weekly report (`invoke report weekly`) reviews the week's sync logs: error patterns, the token
  refresh success rate, rate-limit hits, the error messages to fix, and which integrations are
  operational. Each scenario builds the report from a scratch database holding exactly its data.

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

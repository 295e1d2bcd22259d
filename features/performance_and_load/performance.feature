Feature: Performance
  A sync pages through everything a provider has; its SQL grows with the pages it reads, not with
  the records; a provider that hangs or stumbles is handled in bounded time; memory is monitored.
  The sync scenarios use the provider sandbox, each with an organisation of its own.

  @PERF-01 @local @xero @staging @sandbox
  Scenario: A sync of more invoices than one provider page stores them all
    Given a user "Petra" signed in with an API token
    And a Xero organisation "paged" with 250 invoices in the provider sandbox
    And "Petra" has connected the Xero organisation "paged"
    When "Petra" syncs the invoices of the Xero organisation "paged"
    Then the sync of "paged" succeeds with 250 invoices synced
    And 250 distinct invoices of "paged" are stored for "Petra"
    And the provider sandbox served the invoices of "paged" in 3 pages

  @PERF-02 @PERF-03 @local @xero @staging @sandbox
  Scenario: A sync's SQL grows with the pages it reads, not with the records
    Given a user "Petra" signed in with an API token
    And a Xero organisation "small" with 100 invoices in the provider sandbox
    And a Xero organisation "large" with 600 invoices in the provider sandbox
    And "Petra" has connected the Xero organisation "small"
    And "Petra" has connected the Xero organisation "large"
    When "Petra" syncs the invoices of the Xero organisation "small"
    And "Petra" syncs the invoices of the Xero organisation "large"
    Then the sync of "large" succeeds with 600 invoices synced
    And the sync of "large" issued at most 3 more SQL statements per extra page than the sync of "small"
    And the sync of "large" issued fewer SQL statements than one per 10 invoices

  @PERF-04 @local @xero
  Scenario: A provider that stops answering fails the sync in bounded time
    Given a user "Petra" signed in with an API token
    And a Xero organisation "hung" with 150 invoices in the provider sandbox
    And "Petra" has connected the Xero organisation "hung"
    And a second service instance whose provider read timeout is 1 second
    And the provider sandbox holds every Xero invoices request for 6 seconds
    When "Petra" syncs the invoices of the Xero organisation "hung" through the second service instance
    Then the sync of "hung" fails with status 502 within 30 seconds
    And the sync of "hung" reports that the provider timed out
    And the latest sync log of "hung" records the failure

  @PERF-04 @local @staging @production
  Scenario: The stage's timeouts are bounded
    When the timeout settings of the stage are read
    Then every timeout setting is set and within its bound
      | setting                 | at most |
      | HTTP_CONNECT_TIMEOUT_S  | 15      |
      | HTTP_READ_TIMEOUT_S     | 60      |
      | HTTP_RETRY_TOTAL_S      | 300     |
      | HTTP_RETRY_MAX_WAIT_S   | 120     |
      | DATABASE_POOL_TIMEOUT_S | 30      |

  @PERF-05 @local @xero @staging @sandbox
  Scenario: A rate limit and a server error met once are retried and the sync completes
    Given a user "Petra" signed in with an API token
    And a Xero organisation "bumpy" with 300 invoices in the provider sandbox
    And "Petra" has connected the Xero organisation "bumpy"
    And the provider sandbox answers the next Xero invoices request for page 2 with a rate limit of Retry-After 1 second
    And the provider sandbox answers the next Xero invoices request for page 3 with HTTP 503
    When "Petra" syncs the invoices of the Xero organisation "bumpy"
    Then the sync of "bumpy" succeeds with 300 invoices synced
    And the provider sandbox answered the invoices of "bumpy" with 429 once and 503 once, each retried successfully

  @PERF-05 @local @xero @staging @sandbox
  Scenario: A provider that keeps failing is retried a bounded number of times and then reported
    Given a user "Petra" signed in with an API token
    And a Xero organisation "broken" with 300 invoices in the provider sandbox
    And "Petra" has connected the Xero organisation "broken"
    And the provider sandbox answers every Xero invoices request for page 2 with HTTP 503
    When "Petra" syncs the invoices of the Xero organisation "broken"
    Then the sync of "broken" fails with status 502 as partial with 100 invoices synced
    And the provider sandbox was asked for page 2 of "broken" more than once and at most 10 times

  @PERF-06 @local @staging @production
  Scenario: The service's memory use is exposed to monitoring
    When the monitoring endpoint of the stage's service is read
    Then it reports the service process's resident memory
    And it reports the database connections in use and the pool's size

Feature: Database testing
  The checklist's database testing queries run verbatim against the stage: the integration tables
  answer, the credentials lookup by user is served by an index, and the stored data is whole.
  The scenario's own integration is deleted again at the end.

  @OPS-DBTEST @local @staging @production
  Scenario: The database testing queries run against the stage
    Given a user "Dora" signed in with an API token
    And "Dora" has stored an integration for the database checks
    When the checklist's database testing queries run verbatim on the stage database
    Then every integration table of the checklist answers
    And EXPLAIN ANALYZE of the credentials lookup for "Dora" scans an index and finds her 1 integration
    And no Xero invoice is stored without its Xero id

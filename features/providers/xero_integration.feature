@local @xero
Feature: Xero integration
  A CRM user connects their Xero organisation, and the service keeps its invoices and contacts in
  step with Xero: complete, exactly once each, and still working when Xero's tokens expire. When
  Xero stops honouring the connection the user is told plainly to reconnect.

  Each scenario makes its own organisation at the provider sandbox, so what it sees is its own.

  @XERO-01 @staging @sandbox
  Scenario: Connecting a Xero organisation through Xero's consent page
    Given a user "Alice" signed in with an API token
    And Xero has a organisation "Harbour Bakery" with 12 invoices
    When "Alice" connects Xero to "Harbour Bakery" through its consent page
    Then the integration of "Harbour Bakery" is linked to it, holding tokens it never shows
    And Xero holds a live consent for "Harbour Bakery" given to the service
    And the connection test of "Harbour Bakery" succeeds

  @XERO-02 @staging @sandbox
  Scenario: Xero invoices are stored as Xero shows them
    Given a user "Alice" signed in with an API token
    And Xero has a organisation "Quay Traders" with 60 invoices
    And "Alice" has connected Xero to "Quay Traders"
    When "Alice" syncs the invoices of "Quay Traders"
    Then the sync succeeds with 60 invoices
    And "Alice" reads 60 Xero invoices of "Quay Traders" through the service, each stored once
    And the stored invoices of "Quay Traders" match what Xero shows
    And the latest sync log of "Quay Traders" records success with 60 records
    And the integration of "Quay Traders" is healthy after its sync

  @XERO-02
  Scenario: Pointing Xero at another organisation while a sync runs: the next sync fetches the new organisation whole
    Given a user "Alice" signed in with an API token
    And Xero has a organisation "Anchor Traders" with 300 invoices
    And Xero has a organisation "Beacon Foods" with 120 invoices
    And "Alice" has connected Xero to "Anchor Traders" on a consent covering "Beacon Foods" too
    And Xero answers page 2 of the invoices only after 1500 ms
    When "Alice" points the Xero integration of "Anchor Traders" at "Beacon Foods" while its invoices sync
    Then the sync that was running succeeds, and the integration claims no sync of "Beacon Foods" yet
    When "Alice" syncs the invoices of "Beacon Foods"
    Then the sync succeeds with 120 invoices
    And the latest sync log of "Beacon Foods" records success with 120 records

  @XERO-03 @staging @sandbox
  Scenario: Xero contacts are stored as Xero shows them
    Given a user "Alice" signed in with an API token
    And Xero has a organisation "Fern & Co" with 5 invoices and 140 contacts
    And "Alice" has connected Xero to "Fern & Co"
    When "Alice" syncs the contacts of "Fern & Co"
    Then the sync succeeds with 140 contacts
    And "Alice" reads 140 Xero contacts of "Fern & Co" through the service, each stored once
    And the stored contacts of "Fern & Co" match what Xero shows

  @XERO-04 @staging @sandbox
  Scenario: Expired Xero access tokens are refreshed, and each rotated refresh token is kept for the next time
    Given a user "Alice" signed in with an API token
    And Xero has a organisation "Tidewater Ltd" with 30 invoices
    And "Alice" has connected Xero to "Tidewater Ltd"
    When Xero expires the access tokens it issued
    And "Alice" syncs the invoices of "Tidewater Ltd"
    Then the sync succeeds with 30 invoices
    And the service refreshed the tokens of "Tidewater Ltd" once and Xero rotated them
    When Xero expires the access tokens it issued again
    And "Alice" syncs the invoices of "Tidewater Ltd" again, asking for a full resync
    Then the sync succeeds with 30 invoices
    And the service refreshed the tokens of "Tidewater Ltd" once and Xero rotated them
    And the integration of "Tidewater Ltd" is healthy after its sync

  @XERO-05 @staging @sandbox
  Scenario Outline: Invalid Xero tokens give a clear error and ask for reconnection, and reconnecting restores syncing
    Given a user "Alice" signed in with an API token
    And Xero has a organisation "Kestrel Books" with 25 invoices
    And "Alice" has connected Xero to "Kestrel Books"
    When <what happens to the tokens>
    And "Alice" syncs the invoices of "Kestrel Books"
    Then the sync fails with a clear error asking to reconnect
    And the integration of "Kestrel Books" is marked as needing reconnection
    And the service tried at most one token refresh for "Kestrel Books" and then stopped
    And the latest sync log of "Kestrel Books" records failed with 0 records
    And the connection test of "Kestrel Books" fails
    When "Alice" connects Xero to "Kestrel Books" through its consent page
    Then the reconnected integration of "Kestrel Books" is the same one, connected again
    When "Alice" syncs the invoices of "Kestrel Books" again
    Then the sync succeeds with 25 invoices

    Examples:
      | what happens to the tokens                                            |
      | Xero revokes the connection to "Kestrel Books"                        |
      | "Alice" replaces the stored tokens of "Kestrel Books" with invalid ones |

  @XERO-06 @staging @sandbox
  Scenario: A Xero organisation with many pages of invoices is synced completely
    Given a user "Alice" signed in with an API token
    And Xero has a organisation "Longshore Wholesale" with 1234 invoices
    And "Alice" has connected Xero to "Longshore Wholesale"
    When "Alice" syncs the invoices of "Longshore Wholesale"
    Then the sync succeeds with 1234 invoices
    And Xero was asked for every page of "Longshore Wholesale"'s invoices
    And "Alice" reads 1234 Xero invoices of "Longshore Wholesale" through the service, each stored once
    And the latest sync log of "Longshore Wholesale" records success with 1234 records

  @XERO-07 @staging @sandbox
  Scenario: Syncing Xero again, fully or after changes at Xero, creates no duplicate invoices
    Given a user "Alice" signed in with an API token
    And Xero has a organisation "Saltmarsh Farms" with 150 invoices
    And "Alice" has connected Xero to "Saltmarsh Farms"
    When "Alice" syncs the invoices of "Saltmarsh Farms"
    And "Alice" syncs the invoices of "Saltmarsh Farms" again, asking for a full resync
    Then the sync succeeds with 150 invoices
    And "Alice" reads 150 Xero invoices of "Saltmarsh Farms" through the service, each stored once
    When Xero changes 7 invoices of "Saltmarsh Farms"
    And "Alice" syncs the invoices of "Saltmarsh Farms" again
    Then "Alice" reads 150 Xero invoices of "Saltmarsh Farms" through the service, each stored once
    And the stored invoices of "Saltmarsh Farms" match what Xero shows

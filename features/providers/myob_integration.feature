@local @myob
Feature: MYOB integration
  A CRM user connects a MYOB AccountRight company file, and the service keeps its sales invoices:
  from the company file the user chose, complete, and still working when MYOB's tokens expire.

  Each scenario makes its own company files at the provider sandbox, so what it sees is its own.

  @MYOB-01 @staging @sandbox
  Scenario: Connecting a MYOB company file through MYOB's consent page
    Given a user "Alice" signed in with an API token
    And MYOB has a company file "Outback Outfitters" with 12 invoices
    When "Alice" connects MYOB to "Outback Outfitters" through its consent page
    Then the integration of "Outback Outfitters" is linked to it, holding tokens it never shows
    And MYOB holds a live consent for "Outback Outfitters" given to the service
    And the connection test of "Outback Outfitters" succeeds

  @MYOB-02 @staging @sandbox
  Scenario: MYOB invoices are stored as MYOB shows them, across every page
    Given a user "Alice" signed in with an API token
    And MYOB has a company file "Gumtree Supplies" with 950 invoices
    And "Alice" has connected MYOB to "Gumtree Supplies"
    When "Alice" syncs the invoices of "Gumtree Supplies"
    Then the sync succeeds with 950 invoices
    And MYOB was asked for every page of "Gumtree Supplies"'s invoices
    And "Alice" reads 950 MYOB invoices of "Gumtree Supplies" through the service, each stored once
    And the stored invoices of "Gumtree Supplies" match what MYOB shows
    And the latest sync log of "Gumtree Supplies" records success with 950 records
    And the integration of "Gumtree Supplies" is healthy after its sync

  @MYOB-03 @staging @sandbox
  Scenario: The company file chosen when connecting, and changed later, is the one synced
    Given a user "Alice" signed in with an API token
    And MYOB has a company file "Wattle Retail" with 30 invoices
    And MYOB has a company file "Wattle Wholesale" with 45 invoices
    When "Alice" connects MYOB to "Wattle Wholesale" on a consent covering "Wattle Retail" and "Wattle Wholesale"
    Then the integration of "Wattle Wholesale" is linked to it, holding tokens it never shows
    When "Alice" syncs the invoices of "Wattle Wholesale"
    Then the sync succeeds with 45 invoices
    And the stored invoices of "Wattle Wholesale" match what MYOB shows
    And the MYOB integration of "Wattle Wholesale" holds 0 invoices of "Wattle Retail" and 45 of "Wattle Wholesale"
    When "Alice" points the MYOB integration of "Wattle Wholesale" at "Wattle Retail"
    And "Alice" syncs the invoices of "Wattle Retail"
    Then the sync succeeds with 30 invoices
    And the stored invoices of "Wattle Retail" match what MYOB shows
    And the MYOB integration of "Wattle Wholesale" holds 30 invoices of "Wattle Retail" and 45 of "Wattle Wholesale"

  @MYOB-03 @staging @sandbox
  Scenario: Several company files and none chosen is a clear error that names the setting
    Given a user "Alice" signed in with an API token
    And MYOB has a company file "Banksia North" with 5 invoices
    And MYOB has a company file "Banksia South" with 5 invoices
    When "Alice" connects MYOB without choosing a company file, on a consent covering "Banksia North" and "Banksia South"
    Then the callback is refused with an error naming companyFileId
    And "Alice" has no MYOB integration

  @MYOB-04 @staging @sandbox
  Scenario: Expired MYOB access tokens are refreshed, and each rotated refresh token is kept for the next time
    Given a user "Alice" signed in with an API token
    And MYOB has a company file "Coolabah Trading" with 30 invoices
    And "Alice" has connected MYOB to "Coolabah Trading"
    When MYOB expires the access tokens it issued
    And "Alice" syncs the invoices of "Coolabah Trading"
    Then the sync succeeds with 30 invoices
    And the service refreshed the tokens of "Coolabah Trading" once and MYOB rotated them
    When MYOB expires the access tokens it issued again
    And "Alice" syncs the invoices of "Coolabah Trading" again, asking for a full resync
    Then the sync succeeds with 30 invoices
    And the service refreshed the tokens of "Coolabah Trading" once and MYOB rotated them
    And the integration of "Coolabah Trading" is healthy after its sync

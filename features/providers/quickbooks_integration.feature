@local @quickbooks
Feature: QuickBooks integration
  A CRM user connects one or more QuickBooks Online companies, and the service keeps each company's
  invoices apart, fetched with QuickBooks' query language and stored exactly as QuickBooks shows them.

  Each scenario makes its own companies at the provider sandbox, so what it sees is its own.

  @QBO-01 @staging @sandbox
  Scenario: Connecting a QuickBooks company through Intuit's consent page
    Given a user "Alice" signed in with an API token
    And QuickBooks has a company "Prairie Landscaping" with 12 invoices
    When "Alice" connects QuickBooks to "Prairie Landscaping" through its consent page
    Then the integration of "Prairie Landscaping" is linked to it, holding tokens it never shows
    And QuickBooks holds a live consent for "Prairie Landscaping" given to the service
    And the connection test of "Prairie Landscaping" succeeds

  @QBO-02 @staging @sandbox
  Scenario: QuickBooks invoices are fetched with paged queries and stored as QuickBooks shows them
    Given a user "Alice" signed in with an API token
    And QuickBooks has a company "Maple Street Dental" with 1150 invoices
    And "Alice" has connected QuickBooks to "Maple Street Dental"
    When "Alice" syncs the invoices of "Maple Street Dental"
    Then the sync succeeds with 1150 invoices
    And every QuickBooks request of the sync was a query for "Maple Street Dental"'s invoices
    And "Alice" reads 1150 QuickBooks invoices of "Maple Street Dental" through the service, each stored once
    And the stored invoices of "Maple Street Dental" match what QuickBooks shows
    And the latest sync log of "Maple Street Dental" records success with 1150 records

  @QBO-03 @staging @sandbox
  Scenario: The company's realm id from the consent is stored and used for every request
    Given a user "Alice" signed in with an API token
    And QuickBooks has a company "Lakeside Realty" with 40 invoices
    When "Alice" connects QuickBooks to "Lakeside Realty" through its consent page
    Then the integration of "Lakeside Realty" is linked to it, holding tokens it never shows
    When "Alice" syncs the invoices of "Lakeside Realty"
    Then the sync succeeds with 40 invoices
    And every QuickBooks request of the sync was a query for "Lakeside Realty"'s invoices
    And "Alice" reads 40 QuickBooks invoices of "Lakeside Realty" through the service, each stored once

  @QBO-03 @staging @sandbox
  Scenario: A consent that comes back without the realm id is a clear error, not a half-made integration
    Given a user "Alice" signed in with an API token
    And QuickBooks has a company "Birchwood Clinic" with 5 invoices
    When "Alice" connects QuickBooks to "Birchwood Clinic" but the redirect back loses the realmId
    Then the callback is refused with an error naming realmId
    And "Alice" has no QuickBooks integration

  @QBO-04 @staging @sandbox
  Scenario: One user's two QuickBooks companies sync separately, each keeping only its own invoices
    Given a user "Alice" signed in with an API token
    And QuickBooks has a company "Northwind East" with 35 invoices
    And QuickBooks has a company "Northwind West" with 55 invoices
    And "Alice" has connected QuickBooks to "Northwind East"
    And "Alice" has connected QuickBooks to "Northwind West"
    Then "Alice" has 2 separate QuickBooks integrations
    When "Alice" syncs the invoices of "Northwind East"
    Then the sync succeeds with 35 invoices
    When "Alice" syncs the invoices of "Northwind West"
    Then the sync succeeds with 55 invoices
    And "Alice" reads 35 QuickBooks invoices of "Northwind East" through the service, each stored once
    And "Alice" reads 55 QuickBooks invoices of "Northwind West" through the service, each stored once
    And the stored invoices of "Northwind East" match what QuickBooks shows
    And the stored invoices of "Northwind West" match what QuickBooks shows

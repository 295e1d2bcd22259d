@local @billionmail
Feature: BillionMail integration
  A user connects their own BillionMail instance with an API key. The service syncs the instance's
  campaigns, creates new ones, has them sent, and says how many people each one reaches, counted
  the way BillionMail counts them. BillionMail reports its errors inside successful HTTP answers, so
  the service must read every answer's own success flag. Each scenario uses a BillionMail instance
  of its own, so what the service shows is compared with exactly what that instance holds.

  Background:
    Given a user "Maya" signed in with an API token
    And a fresh BillionMail instance holding 230 campaigns

  @BM-01 @staging @sandbox
  Scenario: The instance's API key connects, and a key the instance does not know is refused
    When "Maya" connects BillionMail with the instance's API key
    Then the BillionMail integration is created without showing the API key
    And the BillionMail connection test passes
    When "Maya" connects BillionMail with an API key the instance does not know
    Then the BillionMail connection is refused as "connection_failed" and no integration is stored
    When "Maya" replaces the BillionMail integration's API key with one the instance does not know
    Then the BillionMail connection test fails as "connection_failed"

  @BM-02 @staging @sandbox
  Scenario: Every campaign is synced, across several pages, as BillionMail shows it
    Given "Maya" has connected the BillionMail instance
    When "Maya" syncs the BillionMail campaigns
    Then the BillionMail sync reports every campaign of the instance as synced
    And the service lists every campaign of the BillionMail instance exactly once
    And each synced BillionMail campaign shows the subject, status, recipients and sent count BillionMail shows
    When "Maya" syncs the BillionMail campaigns
    Then the BillionMail sync reports every campaign of the instance as synced
    And the service lists every campaign of the BillionMail instance exactly once

  @BM-03 @staging @sandbox
  Scenario: A new campaign scheduled for later is created in BillionMail and waits for its time
    Given "Maya" has connected the BillionMail instance
    When "Maya" creates a BillionMail campaign to groups 1 and 2 scheduled 3 days ahead
    Then the BillionMail campaign is created as "not_started"
    And BillionMail holds the campaign with its subject, groups and start time, nothing sent
    And the service lists the new BillionMail campaign

  @BM-04 @staging @sandbox
  Scenario: A campaign without a start time is sent at once to every recipient
    Given "Maya" has connected the BillionMail instance
    When "Maya" creates a BillionMail campaign to groups 1 and 3 to be sent now
    Then BillionMail has sent the campaign to every one of its recipients
    When "Maya" syncs the BillionMail campaigns
    Then the service shows the new BillionMail campaign as "completed" with every recipient sent

  @BM-05 @staging @sandbox
  Scenario: Recipients are counted once per subscribed address, across overlapping groups
    Given "Maya" has connected the BillionMail instance
    And two contact groups in the BillionMail instance:
      | address | first group  | second group |
      | ana     | subscribed   | subscribed   |
      | ben     | unsubscribed | subscribed   |
      | cleo    | subscribed   | absent       |
      | dev     | unsubscribed | unsubscribed |
    When "Maya" creates a BillionMail campaign to those two groups to be sent now
    Then the BillionMail campaign's recipient count is 3, one per subscribed address
    And that count equals the recipients BillionMail froze for the campaign
    And after a sync the service still reports BillionMail's recipient count for the campaign

@local @mautic
Feature: Mautic integration
  A user connects the Mautic instance through Mautic's OAuth consent. The service syncs its
  campaigns, creates and publishes campaigns, adds contacts to segments, and keeps the connection
  alive by refreshing its access token, saving each new refresh token Mautic hands out (Mautic
  accepts each refresh token only once). Each scenario consents on a Mautic instance of its own.

  Background:
    Given a user "Theo" signed in with an API token
    And a fresh Mautic instance holding 230 campaigns

  @MAUTIC-01 @staging @sandbox
  Scenario: Connecting walks Mautic's consent page and keeps working tokens, never showing them
    When "Theo" connects the Mautic instance through its consent page
    Then the Mautic integration is connected with an access and a refresh token, neither shown
    And Mautic shows one consent for the service on that instance, its first tokens unused and live
    And the Mautic connection test passes

  @MAUTIC-02 @staging @sandbox
  Scenario: Every campaign is synced, across several pages, as Mautic shows it
    Given "Theo" has connected the Mautic instance
    When "Theo" syncs the Mautic campaigns
    Then the Mautic sync reports every campaign of the instance as synced
    And the service lists every campaign of the Mautic instance exactly once, with its name and published state

  @MAUTIC-03 @staging @sandbox
  Scenario: A new campaign is created in Mautic, unpublished, with the segments it draws on
    Given "Theo" has connected the Mautic instance
    When "Theo" creates a Mautic campaign drawing on segments 1 and 2
    Then Mautic holds the new campaign, unpublished, drawing on segments 1 and 2
    And the service lists the new Mautic campaign

  @MAUTIC-04 @staging @sandbox
  Scenario: Publishing and unpublishing a campaign changes it in Mautic
    Given "Theo" has connected the Mautic instance
    And "Theo" has created an unpublished Mautic campaign
    When "Theo" publishes the Mautic campaign
    Then Mautic shows the campaign as published
    And the service lists it among the published Mautic campaigns
    When "Theo" unpublishes the Mautic campaign
    Then Mautic shows the campaign as unpublished
    And the service lists it not among the published Mautic campaigns

  @MAUTIC-05 @staging @sandbox
  Scenario: Contacts added to a segment are members of it in Mautic, and an unknown contact is named
    Given "Theo" has connected the Mautic instance
    And contacts 5 and 7 are not in Mautic segment 1
    When "Theo" adds contacts 5, 7 and 5 to Mautic segment 1
    Then Mautic segment 1 holds contacts 5 and 7
    When "Theo" adds contacts 9 and 99999 to Mautic segment 1
    Then the addition is refused naming contact 99999, after adding contact 9

  @MAUTIC-06 @staging @sandbox
  Scenario: An expired access token is refreshed, and the new refresh token is kept for the next time
    Given "Theo" has connected the Mautic instance
    When Mautic expires the access tokens it issued
    And "Theo" tests the Mautic connection
    Then the response status is 200
    And Mautic has rotated the integration's refresh token 1 times, the newest one unused
    When Mautic expires the access tokens it issued
    And "Theo" syncs the Mautic campaigns
    Then the Mautic sync reports every campaign of the instance as synced
    And Mautic has rotated the integration's refresh token 2 times, the newest one unused
    And the Mautic integration is still connected

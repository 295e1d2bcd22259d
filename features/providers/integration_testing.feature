@local
Feature: Integration testing
  A user's integrations work side by side: several sync at the same time, each keeps to its own
  user, every run leaves one accurate entry in the sync history, a failing provider stays the
  problem of its own integration, and syncs running at the same time never trip over each other.
  Each integration sits on a provider account of its own, so "every record of its provider" is an
  exact number.

  @INT-01 @xero @stripe @billionmail @staging @sandbox
  Scenario: A user's Xero, Stripe and BillionMail integrations sync at the same time
    Given a user "Nadia" signed in with an API token
    And "Nadia" has these integrations, each on a provider account of its own:
      | integration | provider    | records |
      | Books       | Xero        | 250     |
      | Payments    | Stripe      | 150     |
      | Newsletter  | BillionMail | 230     |
    When "Nadia" runs syncs of Books, Payments and Newsletter at the same time
    Then the syncs of Books, Payments and Newsletter each succeed with every record of their provider
    And Books, Payments and Newsletter each hold exactly their provider's records
    And Books, Payments and Newsletter each show the sync status "SUCCESS"
    And every log of Books matches what its sync answered
    And every log of Payments matches what its sync answered
    And every log of Newsletter matches what its sync answered

  @INT-02 @billionmail @staging @sandbox
  Scenario: Another user can neither see, use, change nor remove my integration, nor read its history
    Given a user "Nadia" signed in with an API token
    And a user "Oscar" signed in with an API token
    And "Nadia" has these integrations, each on a provider account of its own:
      | integration | provider    | records |
      | Newsletter  | BillionMail | 30      |
    And "Nadia" has synced Newsletter
    Then "Oscar" is answered 404 "not_found" for each of these on Newsletter:
      | action                    |
      | read it                   |
      | rename it                 |
      | replace its API key       |
      | test its connection       |
      | sync it                   |
      | read its campaigns        |
      | create a campaign with it |
      | delete it                 |
    And the integration list of "Oscar" does not show Newsletter
    And the sync history of "Oscar" shows none of "Nadia"'s runs, even when asked for Newsletter by its id
    And Newsletter of "Nadia" is unchanged, still works and has logs of her own syncs only

  @INT-03 @billionmail @staging @sandbox
  Scenario Outline: Every sync run leaves one log with its true counts and outcome, a stopped run too
    Given a user "Nadia" signed in with an API token
    And "Nadia" has these integrations, each on a provider account of its own:
      | integration | provider    | records |
      | Newsletter  | BillionMail | 230     |
    When "Nadia" runs a sync of Newsletter
    Then the sync history of "Nadia" for Newsletter holds 1 log, the newest "success" with 230 records synced
    Given BillionMail fails every request for page <page> of its campaign list
    When "Nadia" runs a sync of Newsletter
    Then the sync of Newsletter is stopped by the provider and answered 502
    And the sync history of "Nadia" for Newsletter holds 2 logs, the newest "<status>" with <synced> records synced and the provider's error
    And every log of Newsletter matches what its sync answered

    Examples:
      | page | status  | synced |
      | 1    | failed  | 0      |
      | 3    | partial | 200    |

  @INT-04 @billionmail @mautic @staging @sandbox
  Scenario Outline: A failing <failing provider> leaves the same user's other integration syncing as usual
    Given a user "Nadia" signed in with an API token
    And "Nadia" has these integrations, each on a provider account of its own:
      | integration | provider    | records |
      | Newsletter  | BillionMail | 230     |
      | Campaigns   | Mautic      | 230     |
    And <failing provider> fails every request for its campaign list
    When "Nadia" runs syncs of Newsletter and Campaigns at the same time
    Then the sync of <failing> is stopped by the provider and answered 502
    And the sync of <healthy> succeeds with every record of its provider
    And <healthy> holds exactly its provider's records
    And <healthy> shows the sync status "SUCCESS"
    And <failing> shows the sync status "ERROR"
    And every log of Newsletter matches what its sync answered
    And every log of Campaigns matches what its sync answered

    Examples:
      | failing provider | failing    | healthy    |
      | Mautic           | Campaigns  | Newsletter |
      | BillionMail      | Newsletter | Campaigns  |

  @INT-05 @billionmail @staging @sandbox
  Scenario: Two syncs of one integration at once: one runs, the other is turned away or neither duplicates
    Given a user "Nadia" signed in with an API token
    And "Nadia" has these integrations, each on a provider account of its own:
      | integration | provider    | records |
      | Newsletter  | BillionMail | 230     |
    And BillionMail answers page 2 of its campaign list only after 800 ms
    When "Nadia" runs two syncs of Newsletter at the same time
    Then one sync of Newsletter succeeded with every record, and the other succeeded too or was turned away with 409 "conflict"
    And Newsletter holds exactly its provider's records
    And every log of Newsletter matches what its sync answered

  @INT-05 @staging
  Scenario: Two writers change different fields of one integration at once, and both changes land
    Given a user "Nadia" signed in with an API token
    When "Nadia" renames an integration and retargets its customData at once, 10 times
    Then both changes landed every time

  @INT-05 @staging
  Scenario: Two writers change one integration from the same read: one applies, the other is told, nothing is lost silently
    Given a user "Nadia" signed in with an API token
    When "Nadia" sends two changes of one integration at once, both made from the same read with its ETag as If-Match, 10 times
    Then each time one change applied and the other was answered 412 "precondition_failed", and the integration holds the applied one

  @INT-05 @staging
  Scenario: A change racing a delete is applied or not found, never an error, and the delete stands
    Given a user "Nadia" signed in with an API token
    When "Nadia" changes an integration while deleting it, 10 times
    Then every delete was answered 204 and every change 200 or 404, never an error, and no integration came back

  @INT-05 @xero
  Scenario: Deleting an integration while it syncs is refused with 409, and the sync finishes with every record
    Given a user "Nadia" signed in with an API token
    And Xero has a organisation "Pier Ledger" with 400 invoices
    And "Nadia" has connected Xero to "Pier Ledger"
    And Xero answers page 3 of the invoices only after 1500 ms
    When "Nadia" deletes the integration of "Pier Ledger" while its invoices sync
    Then the delete is answered 409 "conflict", saying a sync is running
    And the sync that was running succeeds with 400 invoices
    And the latest sync log of "Pier Ledger" records success with 400 records
    When "Nadia" deletes the integration of "Pier Ledger"
    Then the integration of "Pier Ledger" is gone

  @INT-05 @xero
  Scenario: 24 syncs at once are queued: the workers run a few at a time, each stores every invoice, and other users are unaffected
    Given 24 users who have each connected Xero to an organisation of their own with 150 invoices
    And a user "Oscar" signed in with an API token
    And Xero answers page 1 of the invoices only after 1500 ms, 24 times
    When the 24 users sync at the same time while "Oscar" lists his integrations
    Then every sync succeeded with 150 invoices, and never more than 4 ran at once
    And every list of "Oscar" during the syncs was answered 200

  @INT-05 @xero
  Scenario: A worker killed mid-sync: another worker retries the job, every invoice is stored once, and the log tells both attempts
    Given a user "Kira" signed in with an API token
    And Xero has a organisation "Killdeer Books" with 300 invoices
    And "Kira" has connected Xero to "Killdeer Books"
    And Xero answers page 2 of the invoices only after 30000 ms
    And a service instance of the stage's own whose workers retry a silent worker's job after 3 seconds
    When "Kira" starts a sync of "Killdeer Books" on that instance, and once its first page is stored a second worker starts and the first is killed with SIGKILL
    Then the sync that was running succeeds with 300 invoices
    And "Killdeer Books" holds each of its 300 invoices once
    And the sync logs of "Killdeer Books" show the killed attempt "failed" with 100 records and an error starting "interrupted:", then a "success" of the same job

  @INT-05 @billionmail @staging @sandbox
  Scenario: Syncs of two integrations of the same kind at once both succeed
    Given a user "Nadia" signed in with an API token
    And "Nadia" has these integrations, each on a provider account of its own:
      | integration   | provider    | records |
      | Newsletter    | BillionMail | 230     |
      | Announcements | BillionMail | 150     |
    And BillionMail answers page 2 of its campaign list only after 800 ms
    When "Nadia" runs syncs of Newsletter and Announcements at the same time
    Then the syncs of Newsletter and Announcements each succeed with every record of their provider
    And Newsletter and Announcements each hold exactly their provider's records
    And every log of Newsletter matches what its sync answered
    And every log of Announcements matches what its sync answered

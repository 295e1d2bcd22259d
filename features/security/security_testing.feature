Feature: Security testing
  The service refuses whoever is not entitled to what they ask for, keeps every customer's credentials
  to that customer, and shows no secret to a client or in its logs.

  @SECT-01 @local @staging @sandbox
  Scenario: Canary secrets never reach the service log, not even when they fail
    Given a user "Alice" signed in with an API token
    When "Alice" sends canary secrets through every route that takes one, where they work and where they fail
    Then the service log recorded those requests
    And the service log holds none of the canary secrets

  @SECT-01 @local
  Scenario: Secrets in a query string never reach the service log, and each request is logged once
    Given a user "Alice" signed in with an API token
    When "Alice" sends GET /api/integrations with canary secrets in its query string, under a request id of her own
    Then the service log holds one line for that request, naming its path without the query string
    And the service log holds none of the canary secrets

  @SECT-02 @local @staging @production
  Scenario: The API never sends an integration's secrets back to the client
    Given a user "Alice" signed in with an API token
    When "Alice" connects an integration whose API key, API secret and tokens are canary values
    And "Alice" reads, lists and updates that integration
    Then none of the answers holds a canary, in clear text or merely encoded
    And the answers only say that each secret is set

  @SECT-03 @SEC-05 @local @staging @production
  Scenario Outline: An unsigned <provider> webhook is refused
    When an unsigned <provider> event is posted to its webhook
    Then the webhook is refused as not genuine

    @stripe
    Examples: Stripe
      | provider |
      | Stripe   |

    @paypal
    Examples: PayPal
      | provider |
      | PayPal   |

  @SECT-03 @paypal @local @staging @sandbox
  Scenario Outline: A PayPal webhook with a forged signature is refused
    Given a PayPal event for the stage's webhook
    When the event is posted to the PayPal webhook <forgery>
    Then the webhook is refused as not genuine, with code "invalid_signature"

    Examples:
      | forgery                                                       |
      | with a made-up signature and PayPal's genuine certificate     |
      | signed by a certificate served from a host that is not PayPal |

  @SECT-04 @local @staging @production
  Scenario Outline: A request carrying a browser's cookies but no API token is refused
    Given a user "Alice" signed in with an API token
    When a browser holding Alice's token in its cookies sends <method> <path> without an API token
    Then the response status is 401
    And the response is an error with code "unauthorized"

    Examples:
      | method | path                                                    |
      | GET    | /api/integrations                                       |
      | POST   | /api/integrations                                       |
      | DELETE | /api/integrations/00000000-0000-4000-8000-000000000000  |

  @SECT-04 @local @staging @production
  Scenario Outline: An OAuth callback <state> is refused
    When a browser returns to the Xero callback <state>
    Then the response status is <status>
    And the response is an error with code "<code>"

    Examples:
      | state                | status | code              |
      | without a state      | 422    | validation_failed |
      | with a made-up state | 400    | bad_request       |

  @SECT-04 @xero @local @staging @sandbox
  Scenario: An OAuth callback is accepted once, only at the provider that issued its state
    Given a user "Alice" signed in with an API token
    When "Alice" starts connecting Xero and the provider sends her browser back with a code
    Then Xero's state is refused at the MYOB callback, even with a code MYOB issued for it
    And the Xero callback connects the integration
    And Xero's state is refused when used again, even with a fresh code from Xero

  @SECT-04 @XERO-01 @xero @local
  Scenario: A consent URL opened in someone else's browser links nothing to the account that started it
    Given a user "Alice" signed in with an API token
    When "Alice" starts connecting Xero in her browser and the consent URL is completed in another browser
    Then that browser's return to the callback is refused 400, and "Alice" has no integration
    And "Alice"'s own browser can still finish connecting Xero

  @SECT-05 @local @staging
  Scenario: Once limited, a user's writes are refused too, and other users are unaffected
    Given a user "Alice" signed in with an API token
    And a user "Bob" signed in with an API token
    When "Alice" sends GET /api/integrations 20 times more than the stage's rate limit allows in its window
    Then "Alice" creating an integration is answered 429 "rate_limited" and creates nothing
    And "Bob" can still list his integrations

  @SECT-05 @local
  Scenario: Every process of the service counts against one shared rate limit
    Given two service processes of their own sharing the stage's Redis, with the stage's rate limit
    And a user "Alice" signed in with an API token
    When "Alice" sends GET /api/integrations 20 times more than the stage's rate limit allows in its window, to both processes in turn
    Then exactly the rate limit's number of those requests were answered 200
    And every request past the limit was answered 429 "rate_limited" with a Retry-After within the window

  @SECT-06 @local @staging @production
  Scenario: SQL injection in query parameters and ids of the read operations reads nothing it should not
    Given a user "Alice" signed in with an API token
    And "Alice" has an integration of her own
    And a user "Mallory" signed in with an API token
    When "Mallory" puts SQL injection payloads in every query parameter and path id of the live API's read operations
    Then none of Mallory's requests was answered with a server error
    And none of Mallory's answers shows Alice's integration
    And "Alice" still reads her integration unchanged

  @SECT-07 @local @staging @production
  Scenario Outline: Script in <where> comes back as a JSON error, never as a page
    Given a user "Alice" signed in with an API token
    When "Alice" sends a script payload in <where>
    Then the answer is a JSON error, with the browser told not to sniff or render it

    Examples:
      | where                      |
      | an integration id          |
      | a query parameter          |
      | an unknown path            |
      | a JSON field               |
      | a body that is not JSON    |
      | the OAuth callback's state |

  @SECT-07 @xero @local
  Scenario: Script in the pages of an OAuth flow comes back as JSON data, never as a page
    Given a user "Alice" signed in with an API token
    When "Alice" connects Xero under a name holding a script payload, and another flow of hers comes back with a script payload as the provider's error
    Then every answer the browser saw is JSON, the name exactly as sent, and the browser told not to render it

  @SECT-08 @local @staging @production
  Scenario Outline: A caller without a valid API token is refused
    When an anonymous caller sends <method> <path>
    Then the response status is 401
    And the response is an error with code "unauthorized"

    Examples:
      | method | path                   |
      | GET    | /api/integrations      |
      | GET    | /api/integrations/logs |
      | POST   | /api/integrations/sync |

  @SECT-08 @local @staging @production
  Scenario Outline: A caller with <token> is refused
    Given a user "Alice" signed in with an API token
    When a caller with <token> sends GET /api/integrations
    Then the response status is 401
    And the response is an error with code "unauthorized"

    Examples:
      | token                                    |
      | a made-up token                          |
      | Alice's token with one character changed |
      | Alice's token sent as Basic credentials  |
      | an empty Bearer token                    |

  @SECT-08 @local @staging @production
  Scenario Outline: Another user's integration is not found when Mallory tries to <action> it
    Given a user "Alice" signed in with an API token
    And "Alice" has an integration of her own
    And a user "Mallory" signed in with an API token
    When "Mallory" tries to <action> Alice's integration
    Then the response status is 404
    And the response is an error with code "not_found"
    And "Alice" still reads her integration unchanged

    Examples:
      | action |
      | read   |
      | rename |
      | delete |
      | test   |
      | sync   |

  @SECT-08 @xero @local @staging @sandbox
  Scenario: Another user's sync logs and synced records stay hidden
    Given a user "Alice" signed in with an API token
    And "Alice" has connected Xero and synced its contacts
    And a user "Mallory" signed in with an API token
    When "Mallory" lists the sync logs and Xero contacts, unfiltered and filtered by Alice's integration
    Then Mallory sees none of Alice's sync logs or contacts

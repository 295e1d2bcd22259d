Feature: Security
  Customers' credentials are unreadable at rest and travel only over HTTPS; the API answers only the
  CRM's own origin in a browser, refuses floods, forged webhooks and malformed input, and treats attack
  payloads as plain data.

  @SEC-01 @local @staging @production
  Scenario: API keys and tokens are stored encrypted, never in clear text
    Given a user "Alice" signed in with an API token
    When "Alice" connects an integration whose API key, API secret and tokens are canary values
    Then no column of that integration's row in the database holds a canary, in clear text or merely encoded
    And every secret column of that row holds a ciphertext

  @SEC-01 @local @staging @production
  Scenario: A secret nested anywhere in customData is refused, never stored in clear
    Given a user "Alice" signed in with an API token
    And "Alice" has an integration of her own
    When "Alice" sends canary secrets nested in customData, creating an integration and changing hers
    Then each is answered 422 naming the path of every secret-looking key, without echoing a canary
    And no row of "Alice" in the database holds a canary

  @SEC-02 @local
  Scenario: The service refuses to start as staging when any provider is reached over plain HTTP
    Given the settings of a staging service with every provider on HTTPS
    When the service is started with every provider base URL on plain HTTP
    Then it refuses to start, naming every provider base URL and asking for https

  @SEC-02 @local
  Scenario: The same settings with every provider on HTTPS start as production, with HSTS on
    Given the settings of a production service with every provider on HTTPS
    When the service is started with them
    Then it starts, and its answers carry Strict-Transport-Security

  @SEC-02 @staging @production
  Scenario: The deployed service is reached over HTTPS and runs with its HTTPS-only settings
    When an anonymous caller sends GET /api/health
    Then the stage's service URL uses https
    And the answer carries Strict-Transport-Security, so the service validated its HTTPS-only settings
    And every provider base URL in the stage's settings uses https

  @SEC-02 @billionmail @local @staging
  Scenario Outline: A BillionMail instance URL naming an internal address (<form>) is refused before any connection
    Given a user "Alice" signed in with an API token
    When "Alice" connects BillionMail with its instance at "<url>"
    Then it is refused at once with 422, naming customData.baseUrl as an internal address
    And "Alice" has no BillionMail integration

    Examples:
      | form                                       | url                            |
      | a private address                          | https://10.0.0.1               |
      | that address in hexadecimal                | https://0x0a000001             |
      | that address as one decimal number         | https://167772161              |
      | that address in octal, shortened           | https://012.1                  |
      | the cloud metadata (link-local) address    | https://169.254.169.254        |
      | a private address mapped into IPv6         | https://[::ffff:10.0.0.1]      |
      | a private address with a port and a path   | https://192.168.1.10:8443/mail |

  @SEC-03 @local @staging @production
  Scenario: A browser on the CRM's own origin may call the API
    Given a user "Alice" signed in with an API token
    When a browser on the CRM's origin asks before sending GET /api/integrations with an API token
    Then the preflight allows that origin, the Authorization header and the method
    When "Alice" calls GET /api/integrations from a browser on the CRM's origin
    Then the answer lets that origin read it, without cookies

  @SEC-03 @local @staging @production
  Scenario Outline: A browser on a foreign origin gets no CORS permission
    Given a user "Alice" signed in with an API token
    When a browser on "<origin>" asks before sending <method> /api/integrations with an API token
    Then the preflight is refused and allows no origin
    When "Alice" calls GET /api/integrations from a browser on "<origin>"
    Then the answer lets no origin read it

    Examples:
      | origin                             | method |
      | https://evil.example               | GET    |
      | null                               | POST   |
      | http://localhost:3000.evil.example | DELETE |

  @SEC-04 @local @staging
  Scenario: A burst past the rate limit is answered 429 with Retry-After
    Given a user "Alice" signed in with an API token
    When "Alice" sends GET /api/integrations 20 times more than the stage's rate limit allows in its window
    Then exactly the rate limit's number of those requests were answered 200
    And every request past the limit was answered 429 "rate_limited" with a Retry-After within the window

  @SEC-04 @local @staging
  Scenario: Spelling the Bearer scheme another way buys no second rate-limit bucket
    Given a user "Alice" signed in with an API token
    When "Alice" sends GET /api/integrations 20 times more than the stage's rate limit allows in its window, spelling the scheme Bearer, bearer and BEARER in turn
    Then exactly the rate limit's number of those requests were answered 200
    And every request past the limit was answered 429 "rate_limited" with a Retry-After within the window

  @SEC-04 @local
  Scenario: Made-up tokens are limited per client address, whatever X-Forwarded-For claims
    Given a service process of its own with the stage's rate limit, trusting no proxy
    When a caller sends GET /api/integrations 20 times more than the rate limit allows, each time with a new made-up token and another client named in X-Forwarded-For
    Then the rate limit's number of those requests were answered 401 "unauthorized", and every one past it 429 with a Retry-After

  @SEC-04 @local
  Scenario: A made-up token sent again costs the service no database lookup
    Given a service process of its own with the stage's rate limit, trusting no proxy
    When a caller sends GET /api/integrations 20 times with the same made-up token
    Then every one of those requests was answered 401 "unauthorized"
    And the service looked that token up in its database once

  @SEC-05 @stripe @local @staging
  Scenario Outline: A Stripe webhook that is not genuine and fresh is refused, and leaves no trace
    Given a Stripe event the service records and ignores
    When the event is posted to the Stripe webhook <how>
    Then the webhook is refused as not genuine
    When the event is posted to the Stripe webhook signed with the endpoint's secret
    Then it is accepted as a new event, so the refused delivery left no trace

    Examples:
      | how                                               |
      | signed with another secret                        |
      | signed with the endpoint's secret two hours ago   |
      | signed with the endpoint's secret, then altered   |
      | without a signature                               |

  @SEC-05 @paypal @local
  Scenario: Forged PayPal webhooks naming a certificate PayPal does not have cost one fetch of it, not one each
    Given a CRM whose PayPal webhook receives only the events PayPal is asked to deliver
    When 40 forged PayPal webhooks naming a certificate PayPal does not have reach it
    Then every one is refused with status 400 as "invalid_signature"
    And PayPal's host was asked for that certificate exactly once

  @SEC-05 @paypal @local
  Scenario Outline: A PayPal certificate address leaving PayPal's certificate directory (<name>) is refused unfetched
    Given a CRM whose PayPal webhook receives only the events PayPal is asked to deliver
    When a forged PayPal webhook naming the certificate "<name>" under PayPal's address reaches it
    Then the payment webhook refuses the event with status 400
    And the response is an error with code "invalid_signature"
    And the refusal says the address is not PayPal's certificate address, and nothing was fetched from it

    Examples:
      | name    |
      | ..      |
      | %2e%2e  |
      | x/../.. |

  @SEC-06 @local @staging @production
  Scenario Outline: Every operation that takes a JSON body refuses <problem> with 422 naming the field
    Given a user "Alice" signed in with an API token
    When "Alice" sends every JSON-body operation of the live API a body with <problem>
    Then every one is answered 422 "validation_failed", naming each offending field
    # A signed webhook (x-signed-by in the schema) reads no body it cannot verify: the unsigned probe
    # is answered 400 "invalid_signature" instead, before the body is parsed.

    Examples:
      | problem                       |
      | fields of the wrong type      |
      | its required fields missing   |
      | a field the API does not know |

  @SEC-06 @local @staging @production
  Scenario Outline: customData nested <depth> is refused before anything is stored
    Given a user "Alice" signed in with an API token
    And "Alice" has an integration of her own
    When "Alice" creates an integration, and changes hers, with customData nested <depth>
    Then both are answered <status> "<code>", naming customData when the body could be read
    And "Alice" has no integration but her own, which reads back unchanged

    Examples:
      | depth                                        | status | code              |
      | one level deeper than INTEGRATIONS.md allows | 422    | validation_failed |
      | 300 levels deep                              | 422    | validation_failed |
      | 3000 levels deep                             | 400    | bad_request       |

  @SEC-06 @local @staging
  Scenario Outline: customData an older version stored <stored> never breaks a read
    Given a user "Alice" signed in with an API token
    When "Alice" has an integration whose customData an older version stored <stored>
    Then "Alice" reads, lists and renames it, each answered 200 with customData null and no stored secret shown
    And "Alice" can replace that customData, and reads the new value back

    Examples:
      | stored                    |
      | 300 levels deep           |
      | 3000 levels deep          |
      | holding a nested password |

  @SEC-07 @local @staging
  Scenario: SQL injection in every string input is treated as plain data
    Given a user "Alice" signed in with an API token
    And "Alice" has an integration of her own
    And a user "Mallory" signed in with an API token
    When "Mallory" puts SQL injection payloads in every query parameter, path id and JSON field of the live API
    Then none of Mallory's requests was answered with a server error
    And none of Mallory's answers shows Alice's integration
    When "Mallory" names integrations with the SQL injection payloads
    Then each name is read back exactly as sent
    And the integration tables are intact, with Alice's integration unchanged

  @SEC-08 @local @staging @production
  Scenario: Script stored in names comes back as JSON data, never as a page
    Given a user "Alice" signed in with an API token
    When "Alice" stores integrations whose names and custom data hold script payloads
    And "Alice" reads those integrations back, one by one and as a list
    Then every answer is JSON with the payloads exactly as sent, and the browser is told not to sniff or render it

Feature: Code quality
  The code being released passes its own tests, its type checker and its linter, prints nothing
  outside its logs, answers every bad request with the API's one error model, and holds no secrets.
  The tool checks read the checkout that is being released.

  @CQ-01 @local @staging @production
  Scenario: Every project test passed in the release run
    When the JUnit report of the release run's project tests is read
    Then the report lists project tests and none of them failed or errored

  @CQ-02 @local @staging @production
  Scenario: The type checker finds no type errors
    When the quality tool "mypy" checks the checkout
    Then the quality tool reports no problems

  @CQ-03 @local @staging @production
  Scenario: The linter passes
    When the quality tool "ruff" checks the checkout
    Then the quality tool reports no problems

  @CQ-04 @local @staging @production
  Scenario: Production code has no debug print statements
    When the no-print rule checks a scratch module that calls print()
    Then the no-print rule reports the print call
    When the no-print rule checks the service and the provider sandbox
    Then the quality tool reports no problems

  @CQ-05 @local @staging @production
  Scenario Outline: A bad request is answered with the error model, never a crash
    Given a user "Erin" signed in with an API token
    When "Erin" sends <method> <path> with the raw body <body>
    Then the answer is the service's error model with status <status> and no internals

    Examples:
      | case                        | method | path                                       | body                                               | status |
      | malformed JSON              | POST   | /api/integrations                          | {"integrationType": "XERO",                        | 400    |
      | a body that is not JSON     | POST   | /api/integrations/sync                     | integrationId=1&dataType=invoices                  | 400    |
      | missing required fields     | POST   | /api/integrations                          | {}                                                 | 422    |
      | wrong types                 | POST   | /api/integrations/sync                     | {"integrationId": 42, "dataType": ["invoices"]}    | 422    |
      | a list instead of an object | POST   | /api/integrations                          | [1, 2, 3]                                          | 422    |
      | an unknown integration type | POST   | /api/integrations                          | {"integrationType": "NOPE", "integrationName": "x"} | 422    |
      | an unknown integration id   | GET    | /api/integrations/{random-id}              | none                                               | 404    |
      | a sync of an unknown id     | POST   | /api/integrations/sync                     | {"integrationId": "{random-id}", "dataType": "invoices"} | 404 |
      | an id that is not an id     | PATCH  | /api/integrations/not-a-uuid               | {"isActive": false}                                | 404    |
      | an unknown provider         | GET    | /api/integrations/nosuchprovider/connect   | none                                               | 422    |
      | an unknown route            | GET    | /api/no-such-route                         | none                                               | 404    |

  @CQ-05 @local @xero @staging @sandbox
  Scenario: A provider that fails is reported as a clear error, not a crash
    Given a user "Erin" signed in with an API token
    And "Erin" has connected a Xero organisation for the error handling check
    And the provider sandbox fails every Xero "/connections" call with HTTP 500
    When "Erin" tests the connection of that Xero integration
    Then the answer is the service's error model with status 422 and no internals
    And the error names the provider's failure

  @CQ-05 @local
  Scenario: A failure nobody foresaw is answered 500 like every other answer: error model, security headers, request id
    Given a user "Erin" signed in with an API token
    And "Erin" has an integration of her own
    When a service process of its own that cannot decrypt the stored secrets tests that integration's connection under a request id of Erin's
    Then the answer is the service's error model with status 500 and no internals
    And the answer carries the security headers and that request id
    And that service's log names the failure under that request id, with one access line and no server traceback

  @CQ-06 @local @staging @production
  Scenario: No secret is hard-coded in the checkout
    When the secrets scan searches a scratch repository holding a planted Stripe live key
    Then the secrets scan reports the planted key
    When the secrets scan searches every file git tracks in the checkout
    Then the secrets scan reports nothing

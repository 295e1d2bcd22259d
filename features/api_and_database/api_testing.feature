Feature: API testing
  The checklist's API testing procedure: every endpoint answers valid requests, and every kind of bad
  request gets its status and an error in the API's one error model.

  @OPS-APITEST @local @staging @production
  Scenario: The integrations endpoints answer valid requests
    Given a user "Alice" signed in with an API token
    When "Alice" walks an integration through the API: create, list, read, update, its logs and records, delete
    Then every step was answered with its success status
    And the deleted integration is no longer found

  @OPS-APITEST
  Scenario Outline: A request with <error> is answered <status> "<code>"
    Given a user "Alice" signed in with an API token
    When "Alice" sends a request with <error>
    Then the response status is <status>
    And the response is an error with code "<code>"

    @local @staging @production
    Examples: Bad requests
      | error                         | status | code              |
      | a required field missing      | 422    | validation_failed |
      | an integration id not hers    | 404    | not_found         |
      | an integration id not an id   | 422    | validation_failed |
      | no API token                  | 401    | unauthorized      |
      | malformed JSON                | 400    | malformed_json    |

    @local @staging
    Examples: Too many requests
      | error                         | status | code              |
      | the rate limit exceeded       | 429    | rate_limited      |

@local @staging @production
Feature: Security testing
  The service refuses whoever is not entitled to what they ask for, and keeps every customer's
  credentials to that customer.

  @SECT-08
  Scenario Outline: A caller without a valid API token is refused
    When an anonymous caller sends <method> <path>
    Then the response status is 401
    And the response is an error with code "unauthorized"

    Examples:
      | method | path                   |
      | GET    | /api/integrations      |
      | GET    | /api/integrations/logs |

Feature: Environment variables
  Every setting the service reads is documented in .env.example with its secrets marked; the
  defaults are for development only and the service refuses them outside the local stage; the
  staging and production stages have every setting they need.

  @ENV-01 @local @staging @production
  Scenario: Every setting of the service is documented in the example env file
    When the settings of the checkout's service are listed
    Then every setting is documented in the example env file
    And the example env file documents no setting that nothing reads

  @ENV-02 @local @staging @production
  Scenario: Every secret setting is marked sensitive in the example env file
    When the settings of the checkout's service are listed
    Then every secret setting is marked SENSITIVE in the example env file
    And the settings marked SENSITIVE include "ENCRYPTION_KEYS", "DATABASE_URL" and "STRIPE_WEBHOOK_SECRETS"

  @ENV-03 @local @staging @production
  Scenario: The example env file holds development values only
    Then every secret in the example env file is empty or the public development key
    And the settings check refuses the example env file's values for "staging"

  @ENV-03 @local
  Scenario: The service refuses to start as staging with development defaults, naming each one
    Given a complete set of "staging" settings
    When the service is started as "staging" with these unsafe values:
      | setting              | value                                        | refusal                                             |
      | ENCRYPTION_KEYS      | ZGV2ZWxvcG1lbnQta2V5LW5vdC1mb3ItcmVhbC11c2U= | ENCRYPTION_KEYS contains the public development key |
      | CORS_ALLOWED_ORIGINS | *                                            | CORS_ALLOWED_ORIGINS must list origins explicitly   |
      | XERO_API_BASE_URL    | http://api.xero.com                          | XERO_API_BASE_URL must be an https:// URL           |
      | PUBLIC_URL           | http://crm.example.com                       | PUBLIC_URL must be an https:// URL                  |
    Then the service refuses to start, giving every refusal of the table

  @ENV-04 @local
  Scenario: The staging settings check accepts a complete set and names what an incomplete one lacks
    Given a complete set of "staging" settings
    Then the settings check accepts them for "staging"
    And the service starts with them as "staging"
    When "PAYPAL_WEBHOOK_ID" and "XERO_CLIENT_SECRET" are left out of them
    Then the settings check refuses them for "staging", naming "PAYPAL_WEBHOOK_ID" and "XERO_CLIENT_SECRET"

  # The deployed service's own report: the QA runner needs none of the service's secrets.
  @ENV-04 @staging
  Scenario: The staging service reports every setting it needs as set and valid
    When "Ops" asks the service for its configuration report
    Then the service runs as "staging" and reports every setting it needs set and valid, among them:
      | setting                |
      | DATABASE_URL           |
      | ENCRYPTION_KEYS        |
      | CORS_ALLOWED_ORIGINS   |
      | PUBLIC_URL             |
      | STRIPE_WEBHOOK_SECRETS |
      | PAYPAL_MODE            |
      | PAYPAL_WEBHOOK_ID      |
      | XERO_CLIENT_SECRET     |
    And the report shows no setting's value

  @ENV-05 @local
  Scenario: The production settings check accepts a complete set and refuses PayPal's sandbox mode
    Given a complete set of "production" settings
    Then the settings check accepts them for "production"
    When "PAYPAL_MODE" is set to "sandbox" in them
    Then the settings check refuses them for "production", naming "PAYPAL_MODE" and "live"

  # The deployed service's own report: the QA runner needs none of the service's secrets. PayPal in live
  # mode cannot hold on a production stand-in whose PayPal is the provider sandbox: there the service must
  # name sandbox mode as not production's (steps/production_readiness.py).
  @ENV-05 @production
  Scenario: The production service reports every setting it needs as set and valid
    When "Ops" asks the service for its configuration report
    Then the service runs as "production" with every setting it needs set and valid, and PayPal's mode as production requires of the stage's PayPal, among them:
      | setting                |
      | DATABASE_URL           |
      | ENCRYPTION_KEYS        |
      | CORS_ALLOWED_ORIGINS   |
      | PUBLIC_URL             |
      | STRIPE_WEBHOOK_SECRETS |
      | PAYPAL_MODE            |
      | PAYPAL_WEBHOOK_ID      |
      | XERO_CLIENT_SECRET     |
    And the report shows no setting's value

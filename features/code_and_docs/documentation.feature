@local @staging @production
Feature: Documentation
  README.md and INTEGRATIONS.md describe what the released service really does: every provider it
  offers, every route of its API, how to register the payment webhooks, what to do when a provider
  fails, and how to add the next integration. The service's own API schema is the reference.

  Background:
    Given the API schema of the stage's service

  @DOC-01
  Scenario: The README names every provider the service offers
    Then README.md names every integration type of the API schema

  @DOC-02
  Scenario: INTEGRATIONS.md has a complete section for every provider and names no route that does not exist
    Then INTEGRATIONS.md has a section for every integration type of the API schema
    And every provider section of INTEGRATIONS.md says how to connect and what is synced or done
    And every route named in INTEGRATIONS.md or README.md exists in the API schema

  @DOC-03
  Scenario: Every route of the API is documented
    Then every operation of the API schema is documented with its method and path

  @DOC-04
  Scenario Outline: How to register the <provider> webhook is documented
    Then the "<provider>" section of INTEGRATIONS.md tells how to register the webhook at "<route>"
    And it names the setting "<setting>" and every event the checklist lists: <events>
    And "<route>" is a POST route of the API schema

    @stripe
    Examples: Stripe
      | provider | route                            | setting                | events                                                                                                                       |
      | Stripe   | /api/integrations/stripe/webhook | STRIPE_WEBHOOK_SECRETS | charge.succeeded, charge.failed, charge.refunded, customer.subscription.created, customer.subscription.updated, customer.subscription.deleted |

    @paypal
    Examples: PayPal
      | provider | route                            | setting           | events                                                                                     |
      | PayPal   | /api/integrations/paypal/webhook | PAYPAL_WEBHOOK_ID | PAYMENT.SALE.COMPLETED, PAYMENT.SALE.DENIED, BILLING.SUBSCRIPTION.CREATED, BILLING.SUBSCRIPTION.CANCELLED |

  @DOC-05
  Scenario: Every provider has a troubleshooting guide
    Then every provider section of INTEGRATIONS.md has a troubleshooting table of at least 3 symptoms with their causes and fixes

  @DOC-06
  Scenario: The development guide for an eighth integration names every step and real files
    Then INTEGRATIONS.md has a development guide for adding an integration
    And the guide has a step for each of: provider module, sandbox simulator, tables and migration, routes, scenarios, documentation
    And every file or folder of the project that the guide names exists in the checkout

@stripe
Feature: Stripe integration
  A CRM user connects their Stripe account with its secret key. Through the service they take card
  payments, subscribe customers and cancel subscriptions, refund charges and sync their payment
  history; the events Stripe sends to the webhook keep what the CRM shows in step with Stripe, and
  only genuine events are applied, each of them once.

  Where the stage's providers are the provider sandbox, every scenario has a Stripe account of its own
  there. Its events reach the service's webhook only when the scenario delivers them, signed as Stripe
  signs them with the webhook endpoint's secret, so each scenario sees exactly what each delivery
  changes. Elsewhere the scenarios not tagged @sandbox use the stage's Stripe account in test mode.

  @STRIPE-01 @local @staging
  Scenario: A card payment intent is created and confirmed at once
    Given "Mia" has connected a new Stripe account
    When "Mia" creates a Stripe payment intent of 4200 cents paid with the card "pm_card_visa"
    Then the response status is 201
    And the payment intent has succeeded with a charge of 4200 cents
    And Stripe holds the payment intent as "succeeded" for 4200 cents
    And the Stripe payment of "Mia" shows status succeeded, amount 4200, amountRefunded 0

  @STRIPE-01 @local @staging
  Scenario: A declined card is refused and the failed charge is still recorded
    Given "Mia" has connected a new Stripe account
    When "Mia" creates a Stripe payment intent of 4200 cents paid with the card "pm_card_chargeDeclined"
    Then the response status is 402
    And the response is an error with code "payment_declined"
    And the Stripe payment of "Mia" shows status failed, amount 4200, failureCode card_declined

  @STRIPE-02 @local @staging
  Scenario: A customer is subscribed to a price
    Given "Mia" has connected a new Stripe account
    And the Stripe account has a customer and a monthly price of 1500 cents
    When "Mia" subscribes the Stripe customer to the price
    Then the response status is 201
    And Stripe holds the subscription as "active" for the customer and the price
    And the Stripe subscription of "Mia" shows status active, cancelAtPeriodEnd false

  @STRIPE-03 @local @staging
  Scenario: A subscription is cancelled
    Given "Mia" has connected a new Stripe account
    And the Stripe account has a customer and a monthly price of 1500 cents
    And "Mia" has subscribed the Stripe customer to the price
    When "Mia" cancels the Stripe subscription
    Then the response status is 200
    And Stripe holds the subscription as "canceled" for the customer and the price
    And the Stripe subscription of "Mia" shows status canceled

  @STRIPE-05 @local @staging @sandbox
  Scenario: The payment history syncs completely, page after page, and then incrementally
    Given "Mia" has connected a new Stripe account with 230 past charges
    When "Mia" syncs the Stripe payments
    Then the Stripe sync stored 230 records
    And the Stripe payments of "Mia" are exactly the charges Stripe holds
    When a customer pays 999 cents directly at Stripe
    And "Mia" syncs the Stripe payments
    Then the Stripe payments of "Mia" are exactly the charges Stripe holds

  @STRIPE-06 @local @staging
  Scenario: Partial and full refunds are recorded
    Given "Mia" has connected a new Stripe account
    And "Mia" took a card payment of 5000 cents through the service
    When "Mia" refunds 1500 cents of the Stripe payment
    Then the response status is 201
    And the Stripe payment of "Mia" shows amountRefunded 1500, refunded false
    And Stripe holds the charge with 1500 cents refunded
    When "Mia" refunds the rest of the Stripe payment
    Then the response status is 201
    And the Stripe payment of "Mia" shows amountRefunded 5000, refunded true
    And Stripe holds the charge with 5000 cents refunded

  @STRIPE-04 @local @staging @sandbox
  Scenario Outline: Stripe's <event> event updates what the CRM shows, and a redelivery changes nothing
    Given "Mia" has connected a new Stripe account
    And <what happened>
    And the Stripe <record> of "Mia" shows <before>
    When Stripe delivers its <event> event about the <record> to the webhook
    Then the payment webhook accepts the event as new and "applied"
    And the Stripe <record> of "Mia" shows <after>
    And the payment integration's log holds 1 webhook entry
    When Stripe delivers the same event again
    Then the payment webhook acknowledges the event as a duplicate
    And the Stripe <record> of "Mia" shows <after>
    And the payment integration's log holds 1 webhook entry

    @STRIPE-04a
    Examples: charge.succeeded
      | event            | what happened                                               | record  | before           | after                              |
      | charge.succeeded | "Mia" took a card payment of 5000 cents through the service | payment | status succeeded | status succeeded, amountRefunded 0 |

    @STRIPE-04b
    Examples: charge.failed
      | event         | what happened                                                          | record  | before        | after                                    |
      | charge.failed | a card payment of 5000 cents by "Mia" was declined through the service | payment | status failed | status failed, failureCode card_declined |

    @STRIPE-04c
    Examples: charge.refunded
      | event           | what happened                                                                                 | record  | before           | after                                                 |
      | charge.refunded | "Mia" took a card payment of 5000 cents through the service, and 1200 were refunded at Stripe | payment | amountRefunded 0 | status succeeded, amountRefunded 1200, refunded false |

    @STRIPE-04d
    Examples: customer.subscription.created
      | event                         | what happened                                   | record       | before        | after                                  |
      | customer.subscription.created | "Mia" subscribed a customer through the service | subscription | status active | status active, cancelAtPeriodEnd false |

    @STRIPE-04e
    Examples: customer.subscription.updated
      | event                         | what happened                                                                                     | record       | before                  | after                                 |
      | customer.subscription.updated | "Mia" subscribed a customer through the service, and it was set to cancel at period end at Stripe | subscription | cancelAtPeriodEnd false | status active, cancelAtPeriodEnd true |

    @STRIPE-04f
    Examples: customer.subscription.deleted
      | event                         | what happened                                                                   | record       | before        | after           |
      | customer.subscription.deleted | "Mia" subscribed a customer through the service, and it was cancelled at Stripe | subscription | status active | status canceled |

  @STRIPE-04 @local
  Scenario Outline: Stripe's events about a <record> delivered newest first, each three times, leave the newest state
    Given "Mia" has connected a new Stripe account
    And <what happened>
    When Stripe delivers every event about the <record> newest first, each three times
    Then each event was accepted as new once, then acknowledged as a duplicate
    And the Stripe <record> of "Mia" shows <after>

    Examples:
      | record       | what happened                                                                                                     | after                                                 |
      | payment      | "Mia" took a card payment of 5000 cents through the service, then 1200 and later the rest were refunded at Stripe | status succeeded, amountRefunded 5000, refunded true |
      | subscription | "Mia" subscribed a customer through the service, and later it was set to cancel at Stripe                         | status active, cancelAtPeriodEnd true                 |
      | subscription | "Mia" subscribed a customer through the service, and it was cancelled at Stripe                                   | status canceled                                       |

  @STRIPE-04 @SEC-05 @SECT-03 @local @staging @sandbox
  Scenario Outline: A Stripe event that is not genuinely signed for this endpoint is refused and changes nothing
    Given "Mia" has connected a new Stripe account
    And "Mia" took a card payment of 5000 cents through the service, and 1200 were refunded at Stripe
    When Stripe's charge.refunded event reaches the webhook <how it is signed>
    Then the payment webhook refuses the event with status 400
    And the Stripe payment of "Mia" shows amountRefunded 0
    And the payment integration's log holds 0 webhook entries
    When Stripe delivers the same event genuinely signed
    Then the payment webhook accepts the event as new and "applied"
    And the Stripe payment of "Mia" shows amountRefunded 1200

    Examples:
      | how it is signed                                         |
      | signed an hour ago with the endpoint's secret (a replay) |
      | signed with another secret                               |
      | without a signature                                      |
      | with its body changed after signing                      |

  @STRIPE-04 @SEC-05 @SECT-03 @local @staging
  Scenario: A replayed or forged Stripe event is refused, and the same event genuinely signed now is accepted
    Given a Stripe charge.succeeded event about a charge this service has never seen
    When the event is sent to the Stripe webhook signed an hour ago with the endpoint's secret
    Then the payment webhook refuses the event with status 400
    When the event is sent to the Stripe webhook signed now with another secret
    Then the payment webhook refuses the event with status 400
    When the event is sent to the Stripe webhook signed now with the endpoint's secret
    Then the payment webhook accepts the event as new and "unmatched"

@paypal
Feature: PayPal integration
  A CRM user connects their PayPal REST app (client id and secret). The service gets its access
  tokens from PayPal, creates and executes payments, creates billing plans and subscriptions, and
  applies the events PayPal sends to the webhook -- only genuine ones, each of them once. It talks to
  PayPal's sandbox or to live PayPal, as PAYPAL_MODE says.

  In the local stage PayPal is the PayPal simulator, and every scenario registers a REST app of its
  own there. The webhook scenarios run against a second copy of the service, with its own database,
  whose PayPal webhook receives an event only when the scenario has PayPal deliver it, signed with
  PayPal's certificate. On a deployed stage the webhook is the stage's own, which PayPal delivers every
  event to live: those scenarios read what it answered to PayPal's live delivery, then redeliver.

  @PAYPAL-01 @local @staging @sandbox
  Scenario: Connecting a PayPal REST app completes PayPal's OAuth client-credentials flow
    Given a new PayPal REST app
    When "Ava" connects PayPal with the REST app's client id and secret
    Then the response status is 201
    And the answer shows the PayPal integration without its client id or secret
    And PayPal issued an access token to the REST app
    When "Ava" tests the connection of the PayPal integration
    Then the response status is 200

  @PAYPAL-01 @local @staging @sandbox
  Scenario: A PayPal REST app secret that PayPal refuses is not connected
    Given a new PayPal REST app
    When "Ava" connects PayPal with the REST app's client id and a wrong secret
    Then the response status is 422
    And the response is an error with code "connection_failed"
    And "Ava" has no PayPal integration

  @PAYPAL-02 @local @staging @sandbox
  Scenario: A PayPal payment is created and waits for the buyer's approval
    Given "Ava" has connected a new PayPal REST app
    When "Ava" creates a PayPal payment of "42.50" USD
    Then the response status is 201
    And the answer holds an approval link to PayPal's checkout
    And PayPal holds the payment as "created" for "42.50" USD
    And the PayPal payment of "Ava" shows state created, amount 42.50, currency USD

  @PAYPAL-03 @local @staging @sandbox
  Scenario: A payment the buyer approved is executed and its sale completes
    Given "Ava" has connected a new PayPal REST app
    And "Ava" has created a PayPal payment of "42.50" USD
    And the buyer approved the PayPal payment
    When "Ava" executes the PayPal payment for the buyer
    Then the response status is 200
    And PayPal holds the payment's sale as "completed"
    And the PayPal payment of "Ava" shows state completed, amount 42.50, refundedAmount 0

  @PAYPAL-03 @local @staging @sandbox
  Scenario: A payment the buyer has not approved is not executed
    Given "Ava" has connected a new PayPal REST app
    And "Ava" has created a PayPal payment of "42.50" USD
    When "Ava" executes the PayPal payment for a buyer who never approved it
    Then the response status is 422
    And the response is an error with code "provider_rejected"
    And the PayPal payment of "Ava" shows state created

  @PAYPAL-02 @PAYPAL-03 @local @staging @sandbox
  Scenario: A checkout order is captured only once the buyer approved it
    Given "Ava" has connected a new PayPal REST app
    When "Ava" creates a PayPal checkout order of "42.50" USD
    Then the response status is 201
    And the answer holds an approval link to PayPal's checkout
    When "Ava" captures the PayPal checkout order
    Then the response status is 422
    And the response is an error with code "provider_rejected"
    And PayPal holds the checkout order as "PAYER_ACTION_REQUIRED" for "42.50" USD
    When the buyer approves the PayPal checkout order
    And "Ava" captures the PayPal checkout order
    Then the response status is 200
    And PayPal holds the checkout order as "COMPLETED" for "42.50" USD
    And the PayPal order of "Ava" shows status COMPLETED, amount 42.50, currency USD

  @PAYPAL-04 @local @staging @sandbox
  Scenario: A billing plan is created active, and a customer can subscribe to it
    Given "Ava" has connected a new PayPal REST app
    When "Ava" creates a PayPal billing plan at "9.99" USD a month
    Then the response status is 201
    And PayPal holds the billing plan as "ACTIVE" at "9.99" USD a month
    When "Ava" subscribes "buyer@example.com" to the PayPal billing plan
    Then the response status is 201
    And the PayPal subscription of "Ava" shows status APPROVAL_PENDING, subscriberEmail buyer@example.com

  @PAYPAL-04 @local @staging @sandbox
  Scenario: A billing plan created inactive takes no subscribers until it is activated
    Given "Ava" has connected a new PayPal REST app
    When "Ava" creates an inactive PayPal billing plan at "9.99" USD a month
    Then the response status is 201
    And PayPal holds the billing plan as "CREATED" at "9.99" USD a month
    When "Ava" subscribes "buyer@example.com" to the PayPal billing plan
    Then the response status is 422
    And the response is an error with code "provider_rejected"
    When "Ava" activates the PayPal billing plan
    Then the response status is 200
    And PayPal holds the billing plan as "ACTIVE" at "9.99" USD a month

  @PAYPAL-05 @local
  Scenario Outline: PayPal's <event> event updates what the CRM shows, and a redelivery changes nothing
    Given a CRM whose PayPal webhook receives only the events PayPal is asked to deliver
    And "Ava" has connected a new PayPal REST app
    And <what happened>
    And the PayPal <record> of "Ava" shows <before>
    When PayPal delivers its <event> event about the <record> to the webhook
    Then the payment webhook accepts the event as new and "<outcome>"
    And the PayPal <record> of "Ava" shows <after>
    And the payment integration's log holds <entries> webhook entry
    When PayPal delivers the same event again
    Then the payment webhook acknowledges the event as a duplicate
    And the PayPal <record> of "Ava" shows <after>
    And the payment integration's log holds <entries> webhook entry

    @PAYPAL-05a
    Examples: PAYMENT.SALE.COMPLETED
      | event                  | what happened                                                                               | record  | before        | outcome | after                                           | entries |
      | PAYMENT.SALE.COMPLETED | "Ava" created a PayPal payment of "40.00" USD, and the buyer approved it and paid at PayPal | payment | state created | applied | state completed, amount 40.00, refundedAmount 0 | 1       |

    @PAYPAL-05b
    Examples: PAYMENT.SALE.DENIED
      | event               | what happened                                                                                                       | record  | before        | outcome | after        | entries |
      | PAYMENT.SALE.DENIED | "Ava" created a PayPal payment of "40.00" USD, and PayPal denied the buyer's payment when it was executed at PayPal | payment | state created | applied | state denied | 1       |

    @PAYPAL-05c
    Examples: BILLING.SUBSCRIPTION.CREATED
      | event                        | what happened                                                     | record       | before                  | outcome | after                                                      | entries |
      | BILLING.SUBSCRIPTION.CREATED | "Ava" subscribed "buyer@example.com" to a new PayPal billing plan | subscription | status APPROVAL_PENDING | ignored | status APPROVAL_PENDING, subscriberEmail buyer@example.com | 0       |

    @PAYPAL-05d
    Examples: BILLING.SUBSCRIPTION.CANCELLED
      | event                          | what happened                                                                                                                | record       | before                  | outcome | after            | entries |
      | BILLING.SUBSCRIPTION.CANCELLED | "Ava" subscribed "buyer@example.com" to a new PayPal billing plan, and the subscriber approved it and cancelled it at PayPal | subscription | status APPROVAL_PENDING | applied | status CANCELLED | 1       |

  @PAYPAL-05 @staging @sandbox
  Scenario Outline: On the stage, PayPal's <event> event delivered live to the stage's own webhook updates what the CRM shows, and redeliveries change nothing
    Given "Ava" has connected a new PayPal REST app
    And <what happened>
    And PayPal has made its live deliveries to the stage's webhook
    When PayPal delivers its <event> event about the <record> to the stage's webhook twice more
    Then the stage's webhook took the event as new and "<outcome>" once, and every later delivery of it as a duplicate
    And the PayPal <record> of "Ava" shows <after>
    And the payment integration's log holds <entries> webhook entries

    @PAYPAL-05a
    Examples: PAYMENT.SALE.COMPLETED
      | event                  | what happened                                                                               | record  | outcome | after                                           | entries |
      | PAYMENT.SALE.COMPLETED | "Ava" created a PayPal payment of "40.00" USD, and the buyer approved it and paid at PayPal | payment | applied | state completed, amount 40.00, refundedAmount 0 | 1       |

    @PAYPAL-05b
    Examples: PAYMENT.SALE.DENIED
      | event               | what happened                                                                                                       | record  | outcome | after        | entries |
      | PAYMENT.SALE.DENIED | "Ava" created a PayPal payment of "40.00" USD, and PayPal denied the buyer's payment when it was executed at PayPal | payment | applied | state denied | 1       |

    @PAYPAL-05c
    Examples: BILLING.SUBSCRIPTION.CREATED
      | event                        | what happened                                                     | record       | outcome | after                                                      | entries |
      | BILLING.SUBSCRIPTION.CREATED | "Ava" subscribed "buyer@example.com" to a new PayPal billing plan | subscription | ignored | status APPROVAL_PENDING, subscriberEmail buyer@example.com | 0       |

    @PAYPAL-05d
    Examples: BILLING.SUBSCRIPTION.CANCELLED
      | event                          | what happened                                                                                                                | record       | outcome | after            | entries |
      | BILLING.SUBSCRIPTION.CANCELLED | "Ava" subscribed "buyer@example.com" to a new PayPal billing plan, and the subscriber approved it and cancelled it at PayPal | subscription | applied | status CANCELLED | 2       |

  @PAYPAL-05 @local
  Scenario Outline: PayPal's events about a <record> delivered newest first, each three times, leave PayPal's latest state
    Given a CRM whose PayPal webhook receives only the events PayPal is asked to deliver
    And "Ava" has connected a new PayPal REST app
    And <what happened>
    When PayPal delivers every event about the <record> newest first, each three times
    Then each event was accepted as new once, then acknowledged as a duplicate
    And the PayPal <record> of "Ava" shows <after>

    Examples:
      | record       | what happened                                                                                                                | after                                |
      | payment      | "Ava" created a PayPal payment of "40.00" USD, the buyer paid at PayPal, and PayPal refunded "15.00" and later the rest      | state refunded, refundedAmount 40.00 |
      | subscription | "Ava" subscribed "buyer@example.com" to a new PayPal billing plan, and the subscriber approved it and cancelled it at PayPal | status CANCELLED                     |

  @PAYPAL-05 @PAYPAL-05c @local
  Scenario: A BILLING.SUBSCRIPTION.CREATED event about a subscription made outside the CRM invents nothing
    Given a CRM whose PayPal webhook receives only the events PayPal is asked to deliver
    And "Ava" has connected a new PayPal REST app
    And the merchant subscribed "buyer@example.com" to a billing plan directly at PayPal
    When PayPal delivers its BILLING.SUBSCRIPTION.CREATED event about the subscription to the webhook
    Then the payment webhook accepts the event as new and "unmatched"
    And "Ava" has no PayPal subscriptions

  @PAYPAL-05 @SEC-05 @SECT-03 @local
  Scenario Outline: A PayPal event not genuinely signed for this webhook is refused and changes nothing
    Given a CRM whose PayPal webhook receives only the events PayPal is asked to deliver
    And "Ava" has connected a new PayPal REST app
    And "Ava" created a PayPal payment of "40.00" USD, and the buyer approved it and paid at PayPal
    When PayPal's PAYMENT.SALE.COMPLETED event reaches the webhook <how it is signed>
    Then the payment webhook refuses the event with status 400
    And the response is an error with code "invalid_signature"
    And the PayPal payment of "Ava" shows state created
    And the payment integration's log holds 0 webhook entries
    When PayPal delivers the same event genuinely signed
    Then the payment webhook accepts the event as new and "applied"
    And the PayPal payment of "Ava" shows state completed

    Examples:
      | how it is signed                                                   |
      | without any PayPal signature headers                               |
      | without its signature                                              |
      | signed with a key that is not the one in PayPal's certificate      |
      | signed by an impostor whose certificate is not at PayPal's address |
      | with its body changed after signing                                |
      | signed an hour ago                                                 |
      | signed for another webhook                                         |

  @PAYPAL-05 @SEC-05 @local
  Scenario: A forged body posted with the headers of a genuine delivery is refused as a replay and changes nothing
    Given a CRM whose PayPal webhook receives only the events PayPal is asked to deliver
    And "Ava" has connected a new PayPal REST app
    And "Ava" created a PayPal payment of "40.00" USD, and the buyer approved it and paid at PayPal
    When PayPal delivers its PAYMENT.SALE.COMPLETED event about the payment to the webhook
    Then the payment webhook accepts the event as new and "applied"
    When a forger posts a PAYMENT.SALE.REFUNDED of the whole sale with the headers of PayPal's last transmission of that event, its CRC32 matched to the genuine body
    Then the payment webhook refuses the event with status 409
    And the response is an error with code "replayed_transmission"
    And the PayPal payment of "Ava" shows state completed, amount 40.00, refundedAmount 0
    And the payment integration's log holds 1 webhook entry

  @PAYPAL-05 @SEC-05 @local
  Scenario Outline: A forged body under an intercepted, never delivered PayPal signature is not applied: <forgery>
    Given a CRM whose PayPal webhook receives only the events PayPal is asked to deliver
    And "Ava" has connected a new PayPal REST app
    And "Ava" created a PayPal payment of "40.00" USD, and the buyer approved it and paid at PayPal
    When PayPal's PAYMENT.SALE.COMPLETED delivery about the payment is intercepted in transit
    And a forger posts <forgery> with the headers of PayPal's last transmission of that event, its CRC32 matched to the genuine body
    Then <answer>
    And the PayPal payment of "Ava" shows <after>
    And the payment integration's log holds <entries> webhook entries
    When PayPal delivers the same event genuinely signed
    Then the payment webhook accepts the event as new and "<genuine outcome>"
    And the PayPal payment of "Ava" shows state completed, amount 40.00, refundedAmount 0

    # Every state-changing event is confirmed with PayPal first (GET /v1/notifications/webhooks-events/{id}):
    # an id PayPal never sent, or PayPal's id under another type or resource, is refused and leaves no trace.
    Examples:
      | forgery                                                               | answer                                                     | after         | entries | genuine outcome |
      | a PAYMENT.SALE.REFUNDED of the whole sale                             | the payment webhook refuses the event with status 422      | state created | 0       | applied         |
      | a PAYMENT.SALE.DENIED of the sale                                     | the payment webhook refuses the event with status 422      | state created | 0       | applied         |
      | a PAYMENT.SALE.DENIED of the sale under the genuine event's id        | the payment webhook refuses the event with status 422      | state created | 0       | applied         |
      | an event of a type the CRM does not use under the genuine event's id  | the payment webhook accepts the event as new and "ignored" | state created | 0       | applied         |

  @PAYPAL-06 @local @staging @sandbox
  Scenario: In sandbox mode the service does all its PayPal work in PayPal's sandbox
    Given "Ava" has connected a new PayPal REST app
    And "Ava" has created a PayPal payment of "15.00" USD
    And the buyer approved the PayPal payment
    When "Ava" executes the PayPal payment for the buyer
    Then the response status is 200
    And the PayPal payment of "Ava" shows state completed
    And PayPal's sandbox received the service's token request, payment and execution with the REST app's token

  @PAYPAL-07 @local
  Scenario: Switching PAYPAL_MODE to live sends the service's PayPal calls to the live base URL
    Given a copy of the service in PAYPAL_MODE live, whose live base URL is the PayPal simulator and whose sandbox base URL answers nothing
    And a new PayPal REST app
    When "Leo" connects PayPal on the live-mode service with the REST app's client id and secret
    Then the response status is 201
    When "Leo" creates a PayPal payment of "12.00" USD on the live-mode service
    Then the response status is 201
    And PayPal received the live-mode service's token request and payment with the REST app's token

  @PAYPAL-07 @production
  Scenario: Production's service reads its PayPal mode switch and holds what live mode needs
    When "Ops" asks the service for its configuration report
    Then the service runs as "production" with every setting it needs set and valid, and PayPal's mode as production requires of the stage's PayPal, among them:
      | setting                  |
      | PAYPAL_MODE              |
      | PAYPAL_WEBHOOK_ID        |
      | PAYPAL_LIVE_BASE_URL     |

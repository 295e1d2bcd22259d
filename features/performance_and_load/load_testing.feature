@local
Feature: Load testing
  The release gate drives 100 concurrent users through the checklist's operations (Locust, profile
  `gate`) while it samples the service's CPU and memory and the database's connections. These
  scenarios judge that measurement; they do not generate load themselves.

  @OPS-LOAD
  Scenario: Under 100 concurrent users the syncs succeed and the service's resources were monitored
    Given the release gate's load test measurements
    Then the load test ran 100 concurrent users
    And "sync 100 invoices" was requested under load and failed in fewer than 0.5 % of requests
    And response times were measured for every operation of the checklist's performance targets
    And the database connections, memory and CPU of the service were sampled during the load test
    And the service's database connections stayed within its connection pool's limit

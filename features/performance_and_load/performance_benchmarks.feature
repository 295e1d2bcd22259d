@local
Feature: Performance benchmarks
  The checklist's expected performance targets and load testing results, judged on the release
  gate's load test (100 concurrent users, `load/thresholds-colocated.toml`: each target as the
  operation's median, since the load generator shares the service's machine in the local stage).

  @OPS-PERF-TARGETS
  Scenario Outline: <operation> meets its target of <target> ms under load
    Given the release gate's load test measurements
    Then the release gate's thresholds hold "<operation>" to its checklist target of <target> ms
    And the median response time of "<operation>" under load was below <target> ms
    And every threshold on "<operation>" held under load

    Examples:
      | operation            | target |
      | integration list     | 100    |
      | integration creation | 200    |
      | sync 100 invoices    | 5000   |
      | webhook processing   | 500    |
      | database query       | 50     |

  @OPS-LOAD-RESULTS
  Scenario: The load test meets the checklist's results: 99.5 % success, p95 800 ms, p99 1200 ms
    Given the release gate's load test measurements
    Then at least 99.5 % of all requests under load succeeded
    And the 95th percentile of all requests under load was below 800 ms
    And the 99th percentile of all requests under load was below 1200 ms
    And the database connections, memory and CPU of the service were sampled during the load test
    And the service's memory stayed below 2 GB under load

@local
Feature: Sign-off
  A production release needs the QA Lead, the Security Lead, the DevOps Lead and the Product Owner to
  sign off the very commit being released (`invoke signoff --role ROLE --name NAME`). Each sign-off
  is recorded with the person's name and the time, and the release report shows it as attested.

  Scenario Outline: The <who> signs off the commit, and production is refused without that sign-off
    Given a production release of the current commit, with production's last deployment recorded
    And staging's release gate passed on the current commit
    And every attestation of the checklist is recorded for the current commit except "<id>"
    Then the production release is refused, naming the missing "<role>" attestation
    When "<name>" records the "<role>" sign-off for another commit
    Then the production release is refused, naming the missing "<role>" attestation
    When "<name>" records the "<role>" sign-off for the current commit
    Then the "<role>" sign-off by "<name>" is recorded for the current commit
    And the release report shows "<id>" as attested by "<name>"
    And the production release goes ahead

    @SIGN-01
    Examples: QA Lead
      | id      | who      | role | name        |
      | SIGN-01 | QA Lead  | qa   | Quinn Adams |

    @SIGN-02
    Examples: Security Lead
      | id      | who           | role     | name      |
      | SIGN-02 | Security Lead | security | Sasha Kim |

    @SIGN-03
    Examples: DevOps Lead
      | id      | who         | role   | name       |
      | SIGN-03 | DevOps Lead | devops | Dev Okafor |

    @SIGN-04
    Examples: Product Owner
      | id      | who           | role    | name       |
      | SIGN-04 | Product Owner | product | Pat Moreno |

  @SIGN-01 @SIGN-02 @SIGN-03 @SIGN-04
  Scenario: A sign-off needs a known role and a person's name
    Given a production release of the current commit, with production's last deployment recorded
    Then recording a "release-manager" sign-off by "Rita" is refused, naming "unknown role"
    And recording a "qa" sign-off by " " is refused, naming "--name is required"

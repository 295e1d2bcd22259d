"""The QA and release harness, in layers that import one way: core <- stack <- ops <- gates <- report <- qa
(ARCHITECTURE.md, "The harness in layers")."""

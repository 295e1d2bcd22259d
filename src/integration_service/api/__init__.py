"""HTTP routes (one module per area), their dependencies, middleware and the one error model."""

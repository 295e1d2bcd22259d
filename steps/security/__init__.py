"""Steps of the security scenarios (features/security): secrets, HTTPS, CORS, attacks, the edge's limits."""

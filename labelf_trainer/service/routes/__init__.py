"""One router per area: models, inference, classify, ops (health, readiness, metrics)."""

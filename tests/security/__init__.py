"""Security tests (issue #7): every route's scopes, keys and PII never logged, webhook
signatures, body and rate limits, what a form key and an intake key can read."""

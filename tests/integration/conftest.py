"""Integration tests: one service (or all three in-process) against real Tansu and databases.
The fixtures live in tests/infra.py, shared with the e2e tests."""

"""Scoring against real Tansu and real databases: contract versions, decisions, simulation."""

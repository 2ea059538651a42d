"""`leadrelay` subcommands beyond the core ones, one module each.

A module here defines `register(subparsers) -> None`, which adds its parser(s) and sets
`func=<callable(args) -> int>` as a default; `services.cli` discovers them all.
"""

"""Plain service functions: each takes a SQLModel ``Session`` and holds the rules.

No Textual, no Typer, no printing here. Callers own the transaction.
"""

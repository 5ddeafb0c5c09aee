"""What every package shares without depending on the bot: the tables' declarative base, UTC
time, and plain LINE message values.

Domain packages (`faq/`, `ticketing/`, `broadcast/`) import from here, never from `bot/`.
"""

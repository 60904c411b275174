"""Asterisk Manager Interface adapter: the link, framing, translation to domain observations."""

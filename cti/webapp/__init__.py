"""The web layer: aiohttp handlers, sessions and role checks, pages and WebSockets."""

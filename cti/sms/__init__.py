"""SMS: gateways, the transactional outbox, delivery reports and replies (issue #6 fills this)."""

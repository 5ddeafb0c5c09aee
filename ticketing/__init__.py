"""Support tickets and their escalation province → region → central (the ticketing issue)."""

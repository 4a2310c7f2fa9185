"""The warm handoff: on-call schedule, routing, offers, escalation, booking and relay."""

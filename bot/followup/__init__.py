"""Follow-up campaigns: timed, respectful check-ins after a Quick Response Team visit."""

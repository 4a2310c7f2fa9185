"""Doorway: a conversational self-referral assistant that books warm handoffs."""

__version__ = "0.1.0"

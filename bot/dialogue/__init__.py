"""Dialogues as data: the spec, its loader and checks, and the pure runtime."""

"""Requests: the request type, prompt flags, validation and follow-ups. Torch-free."""

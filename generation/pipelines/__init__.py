"""Pipelines: running requests on a loaded model (torch and diffusers)."""

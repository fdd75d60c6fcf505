"""Checkpoints: the registry over the models directory, detection, offline loading, hashes."""

"""The job store."""

"""GPU workers: what the job service hands batches to."""

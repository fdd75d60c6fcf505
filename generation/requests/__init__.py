"""Requests: the request type, prompt flags, validation, follow-ups, and the small rules they share
(sizes: multiples of 8 and fitting; steps: what an img2img pass runs; numbers: how one is written).
Torch-free, and refusals leave as `generation.problems.Problem`s."""

"""The project's default demo model "shapes": synthetic scenes, a prompt-adherence checker, training.

`python -m training.train --out models` trains it from scratch on a CPU (deterministic);
`python -m training.export --models models` writes the single-file (original LDM layout) copy.
"""

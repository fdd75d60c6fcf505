"""The command line (`python -m generation`): one request through the bot's own request, pipeline and
image code. `main` runs it, `errors` words what goes wrong in one line, `standin` finds the tiny model
that stands in for a missing default model (the demo bot uses it too)."""

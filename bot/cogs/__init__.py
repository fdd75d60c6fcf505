"""One extension a feature; each ends with `async def setup(bot)`."""

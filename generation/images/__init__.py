"""Images: grids, the web UI's metadata, saving a job's images, upload encoding. Torch-free."""

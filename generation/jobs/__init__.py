"""Jobs: the job service, the fair queue, quotas, events and the job store. Torch-free."""

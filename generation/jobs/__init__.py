"""Jobs: the job service and what it keeps. Torch-free.

service (JobService, the async API front ends drive), types (Job, JobEvent, EventKind, ...),
problems (SubmitRefused and its codes), fairqueue, estimates (work, rates, ETAs over N workers),
quotas, events (fan-out to subscribers), artifacts (result and upload bytes under keys) and
store/ (the Store protocol and its SQLite implementation). Workers sit behind
generation.workers.protocol.WorkerPool.
"""

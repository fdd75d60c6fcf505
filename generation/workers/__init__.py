"""GPU workers: what the job service hands batches to.

protocol (Batch, the reports, WorkerPool, BatchSink: the seam), local (LocalWorkerPool: in-process
workers, one GPU thread each), runner (PipelineRunner: the real pipeline, PNG bytes out), fakes
(FakeRunner and friends for tests and benchmarks).
"""

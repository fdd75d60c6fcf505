"""Past one GPU: the job service's workers on Ray, its store on PostgreSQL (docs/SCALING.md).

Nothing here is imported unless `[cluster] mode = "ray"` asks for it (Ray and asyncpg load only
then). The pieces:
  localpg.py     a throwaway PostgreSQL server (tests, benchmarks, the demo)
"""

import cProfile
import pstats

from bench._common import bench_engine
from bench.bench_retry import failed_run, sequential_retry
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.config import PipelineConfig

with bench_engine() as (engine, tmp):
    p = Pipeline(PipelineConfig(endpoint_url=engine.endpoint_url))
    p.sync_tables()
    rid = failed_run(p, 500)
    pr = cProfile.Profile()
    pr.enable()
    sequential_retry(p, rid)
    pr.disable()
    st = pstats.Stats(pr)
    st.sort_stats("tottime").print_stats(25)

import time
from bench._common import *
with bench_engine() as (engine, tmp):
    setup_django(engine, tmp)
    p = pipeline_from_settings(); p.sync_tables()
    import boto3
    raw = boto3.session.Session().client("dynamodb", endpoint_url=engine.endpoint_url, region_name="us-east-1")
    req = dict(TableName=p.config.run_table, Key={"runId": {"S": "x"}})
    for c, name in ((raw, "raw"), (p.client, "core")):
        print(name, "no rtt", median_ms(lambda: c.get_item(**req), 200))
    add_rtt(raw, 5); add_rtt(p.client, 5)
    for c, name in ((raw, "raw"), (p.client, "core")):
        print(name, "rtt5", median_ms(lambda: c.get_item(**req), 200))
    print("sleep", median_ms(lambda: time.sleep(0.005), 100))

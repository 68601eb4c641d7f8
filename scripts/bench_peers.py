"""Side-by-side benchmark of mbscenario and its peers on the dev stack.

Run through `scripts/bench` (it builds the binaries and sets the environment).
Every contender runs as a child process; CPU time is the child's user+system
time (getrusage), wall time is measured around it. Prints one table per
section plus ratios, and writes the raw numbers as JSON (argv[1]).
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
BIN = os.path.join(TARGET, "release", "mbscenario")
RAW = os.path.join(TARGET, "release", "examples", "raw_produce")
PY = sys.executable
KAFKA = os.environ["KAFKA_BOOTSTRAP"]
SQS = os.environ["SQS_ENDPOINT"]
N_KAFKA = int(os.environ.get("MBS_BENCH_N", "100000"))
N_SQS = int(os.environ.get("MBS_BENCH_SQS_N", "5000"))
MAX_SECONDS = os.environ.get("MBS_BENCH_MAX", "10s")
FIDELITY_PHASE = os.environ.get("MBS_BENCH_PHASE", "30s")
MEMORY_DURATION = os.environ.get("MBS_BENCH_MEMORY", "5m")
RUN = f"{os.getpid()}"
SCHEMA = os.path.join(ROOT, "schemas", "pokemon_card.avsc")
results = {}


# RSS samples (seconds since start, KiB) of the last child() run with sample_every set.
RSS_SAMPLES = []


def child(cmd, env=None, stdin=None, sample_every=None):
    """Runs cmd; returns (wall s, cpu s, peak RSS KiB, stdout) of that process alone.
    With sample_every (s), RSS_SAMPLES gets the child's RSS over time."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, text=True, stdout=out, stderr=err,
                             stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL)
        if stdin is not None:
            p.stdin.write(stdin)
            p.stdin.close()
        if sample_every:
            RSS_SAMPLES.clear()
            while True:
                pid, status, ru = os.wait4(p.pid, os.WNOHANG)
                if pid:
                    break
                try:
                    with open(f"/proc/{p.pid}/status") as f:
                        kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
                    RSS_SAMPLES.append((time.monotonic() - t0, kib))
                except (OSError, StopIteration):
                    pass
                time.sleep(sample_every)
        else:
            _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if p.returncode not in (0, 1):
            sys.exit(f"{cmd[0]} failed ({p.returncode}):\n{err.read()[-3000:]}")
        return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, out.read()


def scenario(text):
    f = tempfile.NamedTemporaryFile("w", suffix=".yaml", dir=os.path.join(ROOT, "scenarios", "bench"),
                                    prefix=".bench-", delete=False)
    f.write(text)
    f.close()
    return f.name


def mbscenario_run(yaml_text, extra_env=None, extra_args=(), sample_every=None):
    path = scenario(yaml_text)
    out = tempfile.mktemp(suffix=".json")
    try:
        wall, cpu, rss, _ = child([BIN, "run", path, "--no-setup", "--no-arrivals", "--summary-json", out,
                                   "--report-dir", tempfile.gettempdir(), *extra_args], extra_env,
                                  sample_every=sample_every)
        with open(out) as f:
            summary = json.load(f)
    finally:
        os.unlink(path)
        if os.path.exists(out):
            os.unlink(out)
    return wall, cpu, rss, summary


def create_topic(name, partitions=3):
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": KAFKA})
    for f in a.create_topics([NewTopic(name, partitions, 1)]).values():
        f.result()


# --- the hand-written Python producer users write today -------------------
PY_PRODUCER = r'''
import io, json, random, string, struct, sys, time, uuid
import fastavro
from confluent_kafka import Producer
schema = fastavro.parse_schema(json.load(open(sys.argv[1])))
topic, n = sys.argv[2], int(sys.argv[3])
rnd = random.Random(1)
def gen(t):
    if isinstance(t, list):
        return gen(rnd.choice(t))
    if isinstance(t, dict):
        k = t["type"]
        if k == "record":
            return {f["name"]: gen(f["type"]) for f in t["fields"]}
        if k == "enum":
            return rnd.choice(t["symbols"])
        if k == "array":
            return [gen(t["items"]) for _ in range(rnd.randint(0, 3))]
        if k == "map":
            return {"k%d" % i: gen(t["values"]) for i in range(rnd.randint(0, 3))}
        if k == "fixed":
            return bytes(rnd.getrandbits(8) for _ in range(t["size"]))
        lt = t.get("logicalType")
        if lt == "uuid":
            return str(uuid.UUID(int=rnd.getrandbits(128)))
        if lt in ("timestamp-millis", "timestamp-micros"):
            return int(time.time() * 1000)
        if lt == "decimal":
            import decimal
            return decimal.Decimal(rnd.randint(0, 99999)).scaleb(-t.get("scale", 0))
        if lt == "date":
            return rnd.randint(0, 20000)
        return gen(k)
    return {"null": lambda: None, "boolean": lambda: rnd.random() < .5,
            "int": lambda: rnd.randint(-2**31, 2**31 - 1), "long": lambda: rnd.randint(0, 2**40),
            "float": rnd.random, "double": rnd.random,
            "string": lambda: "".join(rnd.choices(string.ascii_letters, k=rnd.randint(1, 16))),
            "bytes": lambda: bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 16)))}[t]()
p = Producer({"bootstrap.servers": sys.argv[4], "linger.ms": 5, "acks": 1})
for i in range(n):
    buf = io.BytesIO()
    buf.write(b"\0" + struct.pack(">I", 1))
    fastavro.schemaless_writer(buf, schema, gen(schema))
    while True:
        try:
            p.produce(topic, buf.getvalue(), key=str(i))
            break
        except BufferError:
            p.poll(0.001)
    p.poll(0)
p.flush(60)
'''

BOTO3_SENDER = r'''
import json, sys, uuid, boto3
n, url, endpoint = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1",
                 aws_access_key_id="test", aws_secret_access_key="test")
body = sys.stdin.read()
for start in range(0, n, 10):
    entries = [{"Id": str(i), "MessageBody": body,
                "MessageAttributes": {"event_id": {"DataType": "String", "StringValue": str(uuid.uuid4())}}}
               for i in range(min(10, n - start))]
    c.send_message_batch(QueueUrl=url, Entries=entries)
'''


RAMP_OVERRIDES = """    imports: [../../generators/pokemon.rhai]
    overrides:
      user_id: 'format("user-{}", uniform(1, 5000))'
      name: 'pokemon::name()'
      set_code: 'pokemon::set_code()'
      rarity: 'weighted(["common", "uncommon", "rare", "holo"], [60, 25, 10, 5])'
      address.city: 'fake::city()'
"""


def kafka_section():
    topic = f"bench.peers.{RUN}"
    create_topic(topic)
    rows = []

    def closed(label, overrides="", extra_args=()):
        """mbscenario, closed model with the default workers: as many as it can for MAX_SECONDS."""
        wall, cpu, rss, s = mbscenario_run(f"""name: bench-kafka
seed: 1
targets: {{ kafka: {{ bootstrap: "{KAFKA}", producer: {{ linger.ms: 5, acks: "1" }} }} }}
streams:
  - name: cards
    schema: ../../schemas/pokemon_card.avsc
    schema_id: 1
    topic: {topic}
{overrides}phases:
  - {{ name: max, duration: {MAX_SECONDS}, rate: max, mode: kafka_via_connect }}
""", extra_args=extra_args)
        acked = s["totals"]["acked"]
        secs = wall_seconds(s["phases"][0]["duration"])
        rows.append((label, acked, acked / secs, cpu / acked * 1e5, rss))

    closed("mbscenario (rate: max, default workers)")
    closed("mbscenario, ramp.yaml's 5 Rhai overrides (rate: max, default workers)", RAMP_OVERRIDES)
    closed("generation only: mbscenario --sink null (rate: max, default workers)", extra_args=("--sink", "null"))
    closed("generation only, with the 5 overrides: --sink null", RAMP_OVERRIDES, extra_args=("--sink", "null"))
    # The hand-written Python producer.
    wall, cpu, rss, _ = child([PY, "-c", PY_PRODUCER, SCHEMA, topic, str(N_KAFKA), KAFKA])
    rows.append(("Python confluent-kafka + fastavro", N_KAFKA, N_KAFKA / wall, cpu / N_KAFKA * 1e5, rss))
    # The physical limit: pre-encoded bytes through a bare rdkafka producer.
    hex_payload = subprocess.run([BIN, "sample", os.path.join(ROOT, "scenarios", "ramp.yaml"), "-n", "1",
                                  "--format", "hex"], capture_output=True, text=True, check=True).stdout
    payload = re.search(r"[0-9a-f]{40,}", hex_payload).group(0)
    # As many messages as mbscenario sent in its run: a 100k burst lasts 0.2 s, too short
    # for a steady state (start-up and the final flush dominate, ±25 % run to run).
    n_bare = int(os.environ.get("MBS_BENCH_N_BARE", rows[0][1]))
    wall, cpu, rss, out = child([RAW, KAFKA, topic, payload, str(n_bare)])
    rows.append(("raw rdkafka, pre-encoded bytes", n_bare, n_bare / wall, cpu / n_bare * 1e5, rss))
    # Apache Kafka's own producer benchmark, same record size, flat out.
    perf = perf_test(topic, n_bare, len(payload) // 2, -1)
    if perf:
        wall, cpu, rss, rate = perf
        rows.append(("kafka-producer-perf-test (Apache Kafka, JVM)", n_bare, rate, cpu / n_bare * 1e5, rss))
    results["kafka"] = rows
    table("Kafka: pokemon_card records to the broker", rows, "CPU-s/100k")
    # The engine-v2 targets: throughput against the bare producer, and CPU per
    # message against what cannot be avoided (generation + producing).
    raw = next(r for r in rows if r[0].startswith("raw rdkafka"))
    # Each run against its own floor: generation of the same records (rows 2 and 3).
    floors = {rows[0][0]: rows[2][3] + raw[3], rows[1][0]: rows[3][3] + raw[3]}
    print("| mbscenario run | msgs/s vs bare producer | CPU/msg vs (generation-only + bare producer) |")
    print("|---|---|---|")
    for r in rows[:2]:
        print(f"| {r[0]} | {r[2] / raw[2]:.0%} | {r[3] / floors[r[0]]:.2f}× |")
    print()
    results["kafka_ratios"] = {r[0]: {"vs_bare": r[2] / raw[2], "cpu_vs_floor": r[3] / floors[r[0]]}
                               for r in rows[:2]}


def kafka_libs():
    """The jars of the dev stack's Apache Kafka (scripts/dev-stack), or None."""
    libs = os.path.join(os.environ.get("MBS_STACK_DIR", ""), "kafka", "libs")
    return libs if os.path.isdir(libs) and any(f.startswith("kafka-tools") for f in os.listdir(libs)) else None


def perf_test(topic, n, size, throughput):
    """kafka-producer-perf-test (org.apache.kafka.tools.ProducerPerformance) as a child process:
    (wall s, CPU s, peak RSS KiB, its own records/sec), or None without the jars."""
    libs = kafka_libs()
    if libs is None:
        print("(kafka-producer-perf-test skipped: no Apache Kafka jars under $MBS_STACK_DIR/kafka/libs)")
        return None
    wall, cpu, rss, out = child(["java", "-Xmx512m", "-cp", os.path.join(libs, "*"),
                                 "org.apache.kafka.tools.ProducerPerformance", "--topic", topic,
                                 "--num-records", str(n), "--record-size", str(size),
                                 "--throughput", str(throughput), "--producer-props",
                                 f"bootstrap.servers={KAFKA}", "acks=1", "linger.ms=5"])
    # Last line: "N records sent, X records/sec (Y MB/sec), …"
    m = re.findall(r"(\d+) records sent, ([\d.]+) records/sec", out)
    rate = float(m[-1][1]) if m else n / wall
    return wall, cpu, rss, rate


def sqs_section():
    import boto3
    c = boto3.client("sqs", endpoint_url=SQS, region_name="us-east-1",
                     aws_access_key_id="test", aws_secret_access_key="test")
    rows = []
    q1 = c.create_queue(QueueName=f"bench-mbs-{RUN}")["QueueUrl"]
    wall, cpu, rss, s = mbscenario_run(f"""name: bench-sqs
seed: 1
targets: {{ sqs: {{ endpoint: "{SQS}", region: us-east-1 }} }}
streams:
  - {{ name: cards, schema: ../../schemas/pokemon_card.avsc, schema_id: 1, queue: bench-mbs-{RUN} }}
phases:
  - {{ name: max, duration: 5s, rate: max, mode: direct_sqs }}
""")
    acked = s["totals"]["acked"]
    rows.append(("mbscenario direct_sqs (rate: max)", acked, acked / 5.0, cpu / max(acked, 1) * 1e3, rss))
    q2 = c.create_queue(QueueName=f"bench-boto3-{RUN}")["QueueUrl"]
    body = subprocess.run([BIN, "sample", os.path.join(ROOT, "scenarios", "direct-sqs.yaml"), "-n", "1"],
                          capture_output=True, text=True, check=True).stdout
    body = json.dumps(json.loads(body)["value"])
    wall, cpu, rss, _ = child([PY, "-c", BOTO3_SENDER, str(N_SQS), q2, SQS], stdin=body)
    rows.append(("boto3 SendMessageBatch loop", N_SQS, N_SQS / wall, cpu / N_SQS * 1e3, rss))
    for q in (q1, q2):
        c.delete_queue(QueueUrl=q)
    results["sqs"] = rows
    table("SQS direct: LocalStack (emulator-bound near 1k msgs/s)", rows, "CPU-s/1k")


def wall_seconds(d):
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)(ms|h|m|s)", d))


def fidelity_section():
    topic = f"bench.fidelity.{RUN}"
    create_topic(topic)
    env = {"MBS_BENCH_TOPIC": topic, "MBS_BENCH_PHASE": FIDELITY_PHASE}
    path = os.path.join(ROOT, "scenarios", "bench", "fidelity.yaml")
    out = tempfile.mktemp(suffix=".json")
    wall, cpu, rss, _ = child([BIN, "run", path, "--summary-json", out, "--report-dir", tempfile.gettempdir()], env)
    s = json.load(open(out))
    os.unlink(out)
    # The independent view: the broker's record timestamps (CreateTime, set at produce).
    per_second, consumed = broker_seconds(topic, s["totals"]["acked"])
    rows, start = [], 0
    for p in s["phases"]:
        secs = int(wall_seconds(p["duration"]))
        target = p["target_rate"]
        # Skip the first and last second of a phase: the timestamps' origin is the first record, not the run start.
        worst, p99 = rate_errors(per_second, target, start, secs)
        st = p["streams"][0]
        rows.append((p["name"], target, p["counts"]["acked"], p["counts"]["dropped"], worst, p99,
                     st["schedule_lag"]["p99_us"], st["latency"]["p99_us"]))
        start += secs
    results["fidelity"] = {"rows": rows, "cpu_s": cpu, "peak_rss_kib": rss, "consumed": consumed}
    print(f"\n## Rate fidelity ({FIDELITY_PHASE} per rate; per-second counts from the broker's record timestamps)\n")
    print("| phase | target/s | acked | dropped | max per-second error | p99 per-second error | p99 schedule lag | p99 send→ack |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]:,.0f} | {r[2]:,} | {r[3]:,} | {r[4]:.2f}% | {r[5]:.2f}% | {r[6] / 1000:.2f} ms | {r[7] / 1000:.2f} ms |")
    print(f"\nconsumed {consumed:,} records back; run CPU {cpu:.1f} s (per 100k: {cpu / max(consumed, 1) * 1e5:.2f})")
    # The same rates from Apache Kafka's own producer benchmark, one run per rate.
    if kafka_libs() is None:
        return
    size = len(re.search(r"[0-9a-f]{40,}", subprocess.run(
        [BIN, "sample", os.path.join(ROOT, "scenarios", "ramp.yaml"), "-n", "1", "--format", "hex"],
        capture_output=True, text=True, check=True).stdout).group(0)) // 2
    perf_rows = []
    for name, target, secs in [(r[0], r[1], int(wall_seconds(p["duration"]))) for r, p in zip(rows, s["phases"])]:
        t = f"bench.perftest.{name}.{RUN}"
        create_topic(t)
        n = int(target * secs)
        wall, cpu, rss, _ = perf_test(t, n, size, int(target))
        per_sec, got = broker_seconds(t, n)
        worst, p99 = rate_errors(per_sec, target, 0, secs)
        perf_rows.append((name, target, got, worst, p99, cpu / max(got, 1) * 1e5, rss))
    results["fidelity_perf_test"] = perf_rows
    print("\n### kafka-producer-perf-test at the same rates (`--throughput`)\n")
    print("| rate | target/s | records at the broker | max per-second error | p99 per-second error | CPU-s/100k | peak RSS |")
    print("|---|---|---|---|---|---|---|")
    for r in perf_rows:
        print(f"| {r[0]} | {r[1]:,.0f} | {r[2]:,} | {r[3]:.2f}% | {r[4]:.2f}% | {r[5]:.2f} | {r[6] // 1024} MiB |")


def broker_seconds(topic, want):
    """Consumes `topic` from the start: (records per second of CreateTime from the first
    record, records consumed). Stops at `want` records or after 10 s without any."""
    from confluent_kafka import Consumer, TopicPartition
    cons = Consumer({"bootstrap.servers": KAFKA, "group.id": f"bench-{RUN}-{topic}", "enable.auto.commit": False,
                     "auto.offset.reset": "earliest"})
    md = cons.list_topics(topic, timeout=10)
    cons.assign([TopicPartition(topic, p, 0) for p in md.topics[topic].partitions])
    stamps, idle = [], 0
    while len(stamps) < want and idle < 20:
        batch = cons.consume(10000, timeout=0.5)
        idle = 0 if batch else idle + 1
        stamps += [m.timestamp()[1] for m in batch if m.error() is None]
    cons.close()
    per_second = {}
    t0 = min(stamps, default=0)
    for ts in stamps:
        sec = (ts - t0) // 1000
        per_second[sec] = per_second.get(sec, 0) + 1
    return per_second, len(stamps)


def rate_errors(per_second, target, start, secs):
    """(max, p99) per-second error in % over seconds start+1 .. start+secs-2: the first and
    last second of a phase are skipped (the timestamps' origin is the first record)."""
    errs = sorted(abs(per_second.get(t, 0) - target) / target * 100 for t in range(start + 1, start + secs - 1))
    p99 = errs[min(len(errs) - 1, int(len(errs) * 0.99))] if errs else 0
    return max(errs, default=0), p99


def memory_section():
    topic = f"bench.memory.{RUN}"
    create_topic(topic)
    wall, cpu, rss, s = mbscenario_run(f"""name: bench-memory
seed: 1
targets: {{ kafka: {{ bootstrap: "{KAFKA}", producer: {{ linger.ms: 5, acks: "1" }} }} }}
streams:
  - {{ name: cards, schema: ../../schemas/pokemon_card.avsc, schema_id: 1, topic: {topic} }}
phases:
  - {{ name: r50k, duration: {MEMORY_DURATION}, rate: 50k/s, mode: kafka_via_connect }}
""", sample_every=5)
    # Flatness: mean RSS of the first minute (after 10 s of warm-up) vs the last minute.
    end = max((t for t, _ in RSS_SAMPLES), default=0)
    def mean(lo, hi):
        xs = [k for t, k in RSS_SAMPLES if lo <= t < hi]
        return sum(xs) / len(xs) if xs else 0
    first, last = mean(10, 70), mean(end - 60, end + 1)
    results["memory"] = {"duration": MEMORY_DURATION, "acked": s["totals"]["acked"],
                         "dropped": s["totals"]["dropped"], "peak_rss_kib": rss, "cpu_s": cpu,
                         "rss_samples": RSS_SAMPLES[:], "first_minute_kib": first, "last_minute_kib": last}
    print(f"\n## Memory: 50k msgs/s for {MEMORY_DURATION}\n")
    print(f"acked {s['totals']['acked']:,}, dropped {s['totals']['dropped']:,}, peak RSS {rss / 1024:.0f} MiB, CPU {cpu:.0f} s")
    if first:
        print(f"RSS mean, first minute {first / 1024:.1f} MiB vs last minute {last / 1024:.1f} MiB ({(last - first) / first:+.1%})")
    virtual_memory()


def virtual_memory():
    """The same shape on the virtual clock, with a queue: every acknowledged message
    arrives and goes through the collector's per-copy path (decode, bitmaps, latency),
    so the peak shows whether arrival accounting grows per message."""
    path = scenario(f"""name: bench-memory-virtual
seed: 1
streams:
  - {{ name: cards, schema: ../../schemas/pokemon_card.avsc, schema_id: 1, topic: bench.memory, queue: bench-memory }}
phases:
  - {{ name: r50k, duration: {MEMORY_DURATION}, rate: 50k/s, mode: kafka_via_connect }}
""")
    out = tempfile.mkdtemp()
    try:
        wall, cpu, rss, _ = child([BIN, "run", path, "--sink", "virtual", "--report-dir", out])
        report = json.load(open(next(os.path.join(out, f) for f in os.listdir(out) if f.endswith(".json"))))
    finally:
        os.unlink(path)
    q = report["arrivals"]["queues"][0]
    results["memory_virtual"] = {"duration": MEMORY_DURATION, "expected": q["expected"], "arrived": q["arrived"],
                                 "peak_rss_kib": rss, "cpu_s": cpu, "wall_s": wall}
    print(f"\nVirtual clock, same shape, arrivals counted: {q['arrived']:,} of {q['expected']:,} arrived, "
          f"peak RSS {rss / 1024:.0f} MiB ({wall:.0f} s wall)")


def callgrind(cmd):
    """Instructions (callgrind's Ir, every thread) cmd executes, and its stdout."""
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={d}/cg.%p", *cmd],
                           capture_output=True, text=True)
        if r.returncode not in (0, 1):
            sys.exit(f"{cmd[0]} under callgrind failed ({r.returncode}):\n{r.stderr[-3000:]}")
        return sum(int(x) for x in re.findall(r"Collected : (\d+)", r.stderr)), r.stdout


def instructions_section():
    """CPU per message as instructions, which a shared 2-core machine does not
    blur (CPU seconds move ±25 % from run to run here). Each contender runs
    twice, short and long, and the difference of instructions over the
    difference of messages is its cost per message without start-up."""
    if subprocess.run(["sh", "-c", "command -v valgrind"], capture_output=True).returncode != 0:
        print("\n!!! instructions section SKIPPED: valgrind is not installed (apt-get install valgrind) !!!")
        return
    topic = f"bench.instructions.{RUN}"
    create_topic(topic)

    def per_message(overrides="", extra_args=()):
        points = []
        for secs in (3, 9):
            path = scenario(f"""name: bench-instructions
seed: 1
targets: {{ kafka: {{ bootstrap: "{KAFKA}", producer: {{ linger.ms: 5, acks: "1" }} }} }}
streams:
  - name: cards
    schema: ../../schemas/pokemon_card.avsc
    schema_id: 1
    topic: {topic}
{overrides}phases:
  - {{ name: max, duration: {secs}s, rate: max, mode: kafka_via_connect }}
""")
            out = tempfile.mktemp(suffix=".json")
            try:
                ir, _ = callgrind([BIN, "run", path, "--no-setup", "--no-arrivals", "--summary-json", out,
                                   "--report-dir", tempfile.gettempdir(), *extra_args])
                points.append((json.load(open(out))["totals"]["acked"], ir))
            finally:
                os.unlink(path)
                if os.path.exists(out):
                    os.unlink(out)
        (n1, i1), (n2, i2) = points
        return (i2 - i1) / (n2 - n1)

    hex_payload = subprocess.run([BIN, "sample", os.path.join(ROOT, "scenarios", "ramp.yaml"), "-n", "1",
                                  "--format", "hex"], capture_output=True, text=True, check=True).stdout
    payload = re.search(r"[0-9a-f]{40,}", hex_payload).group(0)
    # Below librdkafka's default queue of 100k messages: under callgrind the broker thread
    # is slow, and a full queue makes the sender poll in a loop (instructions, not work).
    bare = [callgrind([RAW, KAFKA, topic, payload, str(n)])[0] for n in (20_000, 80_000)]
    rows = {
        "mbscenario (rate: max)": per_message(),
        "generation only (--sink null)": per_message(extra_args=("--sink", "null")),
        "mbscenario, 5 Rhai overrides": per_message(RAMP_OVERRIDES),
        "generation only, 5 overrides": per_message(RAMP_OVERRIDES, ("--sink", "null")),
        "raw rdkafka, pre-encoded bytes": (bare[1] - bare[0]) / 60_000,
    }
    results["instructions"] = rows
    print("\n## Instructions per message (callgrind, all threads of the process, start-up excluded)\n")
    print("| contender | instructions/msg |")
    print("|---|---|")
    for name, ir in rows.items():
        print(f"| {name} | {ir:,.0f} |")
    b = rows["raw rdkafka, pre-encoded bytes"]
    print("\n| mbscenario run | vs (generation only + bare producer) | bare producer / run, in instructions (generation alone) |")
    print("|---|---|---|")
    for run, gen in [("mbscenario (rate: max)", "generation only (--sink null)"),
                     ("mbscenario, 5 Rhai overrides", "generation only, 5 overrides")]:
        print(f"| {run} | {rows[run] / (rows[gen] + b):.2f}× | {b / rows[run]:.0%} ({b / (rows[gen] + b):.0%}) |")


def table(title, rows, cpu_unit):
    print(f"\n## {title}\n")
    print(f"| contender | messages | msgs/s | {cpu_unit} | peak RSS | msgs/s vs mbscenario | CPU/msg vs mbscenario |")
    print("|---|---|---|---|---|---|---|")
    base = rows[0]
    for name, n, rate, cpu, rss in rows:
        print(f"| {name} | {n:,} | {rate:,.0f} | {cpu:.2f} | {rss / 1024:.0f} MiB | {rate / base[2]:.2f}× | {cpu / base[3]:.2f}× |")


if __name__ == "__main__":
    wanted = os.environ.get("MBS_BENCH_SECTIONS", "kafka,sqs,fidelity,memory").split(",")
    for name in wanted:
        globals()[f"{name}_section"]()
    with open(sys.argv[1], "w") as f:
        json.dump(results, f, indent=2)

#!/usr/bin/env python3
"""Long-poll an SQS queue, print each message with its attributes, delete it.

    scripts/sqs_consumer.py mb-events                       # until Ctrl-C
    scripts/sqs_consumer.py mb-events --count 100 --max-seconds 30
    scripts/sqs_consumer.py http://127.0.0.1:4566/queue/us-east-1/000000000000/mb-events --json

The endpoint comes from SQS_ENDPOINT (default http://127.0.0.1:4566; --endpoint overrides it),
credentials from the usual AWS variables (test/test when unset, for LocalStack), region from
AWS_REGION (default us-east-1). Needs boto3: `scripts/dev-stack install` puts it in
$MBS_STACK_DIR/venv-tools, so run it as `$MBS_TOOLS_PYTHON scripts/sqs_consumer.py ...`.

Exit status: 0 when --count messages arrived (or, without --count, when the time ran out or the
user stopped it), 1 when --count was given and fewer arrived before --max-seconds, 2 on usage or
connection errors.
"""
import argparse
import json
import os
import sys
import time

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # pragma: no cover - depends on the environment
    sys.exit("sqs_consumer.py needs boto3: run it with $MBS_TOOLS_PYTHON (see scripts/dev-stack install)")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("queue", help="queue name or queue URL")
    p.add_argument("--endpoint", default=os.environ.get("SQS_ENDPOINT", "http://127.0.0.1:4566"),
                   help="SQS endpoint (default: $SQS_ENDPOINT or http://127.0.0.1:4566)")
    p.add_argument("--region", default=os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1")))
    p.add_argument("--count", type=int, default=0, help="stop after this many messages (0: no limit)")
    p.add_argument("--max-seconds", type=float, default=0, help="stop after this long (0: no limit)")
    p.add_argument("--wait", type=int, default=5, choices=range(0, 21), metavar="0..20",
                   help="long-poll wait per ReceiveMessage call, seconds (default 5)")
    p.add_argument("--keep", action="store_true", help="do not delete the messages")
    p.add_argument("--json", action="store_true", help="print one JSON object per message")
    p.add_argument("--quiet", action="store_true", help="print only the final count")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.count < 0 or args.max_seconds < 0:
        print("--count and --max-seconds must be >= 0", file=sys.stderr)
        return 2
    sqs = boto3.client(
        "sqs",
        endpoint_url=args.endpoint,
        region_name=args.region,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=args.wait + 10),
    )
    try:
        url = args.queue if "://" in args.queue else sqs.get_queue_url(QueueName=args.queue)["QueueUrl"]
    except (BotoCoreError, ClientError) as e:
        print(f"cannot resolve queue {args.queue!r} at {args.endpoint}: {e}", file=sys.stderr)
        return 2

    deadline = time.monotonic() + args.max_seconds if args.max_seconds else None
    received = 0
    try:
        while not args.count or received < args.count:
            wait = args.wait
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                wait = max(0, min(wait, int(left)))
            want = 10 if not args.count else max(1, min(10, args.count - received))
            try:
                resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=want, WaitTimeSeconds=wait,
                                           MessageAttributeNames=["All"], AttributeNames=["All"])
            except (BotoCoreError, ClientError) as e:
                print(f"receive from {url} failed: {e}", file=sys.stderr)
                return 2
            messages = resp.get("Messages", [])
            for m in messages:
                received += 1
                if not args.quiet:
                    print_message(m, args.json)
            if messages and not args.keep:
                entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
                failed = sqs.delete_message_batch(QueueUrl=url, Entries=entries).get("Failed", [])
                if failed:
                    print(f"could not delete {len(failed)} message(s): {failed}", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        sys.stdout.flush()
    print(f"received {received} message(s) from {url}", file=sys.stderr)
    return 1 if args.count and received < args.count else 0


def print_message(m, as_json):
    attrs = {k: v.get("StringValue", v.get("BinaryValue")) for k, v in m.get("MessageAttributes", {}).items()}
    if as_json:
        print(json.dumps({"id": m["MessageId"], "attributes": attrs, "body": m["Body"],
                          "sent_timestamp": m.get("Attributes", {}).get("SentTimestamp")}, default=str))
    else:
        shown = " ".join(f"{k}={v}" for k, v in sorted(attrs.items()))
        body = m["Body"] if len(m["Body"]) <= 200 else m["Body"][:200] + "..."
        print(f"{m['MessageId']} [{shown}] {body}")


if __name__ == "__main__":
    sys.exit(main())

"""What Herald adds to SES's own price per million emails, from measured counts and AWS list
prices (us-east-1, on demand). Prints a Markdown section for BENCHMARKS.md.

Usage: python3 cost.py WRITE_REQUESTS_PER_10K_EVENTS COUNTER_UPDATES_PER_10K_EVENTS

DynamoDB bills BatchWriteItem and BatchGetItem per item, not per request: batching saves
requests and latency, not write or read units. That is why the write-request count per event
(0.06) is not what the table costs.
"""

import sys

writes_10k = int(sys.argv[1]) if len(sys.argv) > 1 else 580
updates_10k = int(sys.argv[2]) if len(sys.argv) > 2 else 180

# List prices (USD).
WRU = 0.625 / 1e6  # DynamoDB on-demand write request unit (1 KB)
RRU = 0.125 / 1e6  # DynamoDB on-demand read request unit (4 KB, strongly consistent)
SNS_PUBLISH = 0.50 / 1e6  # SNS publish (64 KB chunk); SNS charges nothing to deliver to SQS
SQS_REQUEST = 0.40 / 1e6  # SQS standard request (64 KB chunk)
LAMBDA_GB_S = 0.0000133334  # Lambda arm64 per GB-second
LAMBDA_REQUEST = 0.20 / 1e6

EMAILS = 1_000_000
# What SES reports per email sent (assumed: 98% delivered, 2% bounced, 0.05% complaints,
# 0.30 opens of which 0.20 unique, 0.03 clicks). Every one is a published event.
per_email = {
    "Send": 1.0,
    "Delivery": 0.98,
    "Bounce": 0.02,
    "Complaint": 0.0005,
    "Open": 0.30,
    "Click": 0.03,
}
events = EMAILS * sum(per_email.values())
repeating = EMAILS * (per_email["Open"] + per_email["Click"])

# Measured: counter updates per event (one per counters item per batch of 1,000); a counters
# item with its per-channel, per-provider, per-hour and per-link counts is assumed <= 3 KB.
counter_wru = events * (updates_10k / 10_000) * 3
rows = [
    # (path, item, quantity text, cost)
    ("tracking", "SNS: SES publishes each event to the topic", f"{events/1e6:.2f} M publishes",
     events * SNS_PUBLISH),
    ("tracking", "SQS: SNS's delivery of each event into the tracker queue (a SendMessage "
     "billed to the queue's owner: \"Standard SQS pricing applies\")",
     f"{events/1e6:.2f} M requests", events * SQS_REQUEST),
    ("tracking", "SQS: the tracker's ReceiveMessage (10 per call) and DeleteMessageBatch",
     f"{2*events/10/1e6:.3f} M requests", 2 * events / 10 * SQS_REQUEST),
    ("tracking", "DynamoDB: one item per new event (< 1 KB)", f"{events/1e6:.2f} M WRU",
     events * WRU),
    ("tracking", "DynamoDB: counters (measured updates per event × 3 KB)",
     f"{counter_wru/1e6:.3f} M WRU", counter_wru * WRU),
    ("tracking", "DynamoDB: suppressions (hard bounces, complaints)",
     f"{EMAILS*0.0205/1e6:.3f} M WRU", EMAILS * 0.0205 * WRU),
    ("tracking", "DynamoDB: duplicate and first-open checks (1 key per event, 2 for opens and clicks)",
     f"{(events+repeating)/1e6:.2f} M RRU", (events + repeating) * RRU),
    ("tracking", "vouching: every SES event carries the sender's seal, checked under the tenant's "
     "key (1 GetItem and 1 KMS Decrypt per tenant per tracker instance, nothing per event)",
     "0 per event", 0.0),
    ("tracking", "Lambda: tracker, ~0.5 s at 256 MB per batch of 1,000",
     f"{events/1000:.0f} invocations", events / 1000 * (0.5 * 0.25 * LAMBDA_GB_S + LAMBDA_REQUEST)),
    ("sending", "DynamoDB: the message record (< 1 KB)", f"{EMAILS/1e6:.2f} M WRU", EMAILS * WRU),
    ("sending", "DynamoDB: claims, batch outcomes, rate bookings, health (~0.03 per message)",
     f"{EMAILS*0.03/1e6:.2f} M WRU", EMAILS * 0.03 * WRU),
    ("sending", "DynamoDB: consent and suppression reads (2 keys per message)",
     f"{2*EMAILS/1e6:.2f} M RRU", 2 * EMAILS * RRU),
    ("sending", "SQS: delivery jobs of 100 (send, receive, delete)",
     f"{EMAILS*0.03/1e6:.3f} M requests", EMAILS * 0.03 * SQS_REQUEST),
    ("sending", "Lambda: sender, ~2.5 s at 512 MB per ten jobs of 100",
     f"{EMAILS/1000:.0f} invocations", EMAILS / 1000 * (2.5 * 0.5 * LAMBDA_GB_S + LAMBDA_REQUEST)),
]
total = sum(r[3] for r in rows)
tracking = sum(r[3] for r in rows if r[0] == "tracking")
sns = rows[0][3] + rows[1][3]

print("### What Herald adds per million emails (on top of SES's own $100 to $160)")
print()
print(f"Assumed per email: {', '.join(f'{k} {v:g}' for k, v in per_email.items())} "
      f"({events/EMAILS:.2f} events). Prices: DynamoDB on demand $0.625 per million write "
      "units and $0.125 per million read units, SNS $0.50 per million publishes, SQS $0.40 "
      "per million requests, Lambda arm64 $0.0000133334 per GB-second and $0.20 per million "
      "requests, KMS $0.03 per 10,000 requests: AWS's us-east-1 list prices as checked in "
      "December 2026 (DynamoDB on demand since its 1 November 2024 price cut); check them "
      "against the pricing pages before relying on them. SNS's pricing page: \"No charge for "
      "deliveries to SQS Queues. Standard SQS pricing applies.\" Each message SNS puts in the "
      "tracker queue is an SQS SendMessage (the queue policy grants SNS `sqs:SendMessage`), "
      "billed to the queue's owner like the SQS API calls SQS makes on a user's behalf for a "
      "dead-letter redrive: counted here (AWS states it no more plainly than that). SES's own "
      "price, the floor: $0.10 per 1,000 à la carte; accounts opened since SES's pricing plans "
      "(21 July 2026) default to Essentials, $0.16 per 1,000.")
print()
print("| path | what | quantity | USD |")
print("|---|---|---|---|")
for path, what, qty, cost in rows:
    print(f"| {path} | {what} | {qty} | {cost:.3f} |")
print(f"| | **total** | | **{total:.2f}** |")
print()
verdict = "meets" if total < 2 else "misses"
print(f"Herald adds **${total:.2f}** per million emails: it {verdict} the $2 goal. "
      f"Tracking is ${tracking:.2f} of it, of which ${sns:.2f} is SNS carrying SES's events "
      "into the tracker queue (the SNS publish and the SQS request of its delivery: the event "
      f"destination the design asks for) and ${rows[3][3]:.2f} one DynamoDB item "
      "per event: DynamoDB bills every item as a write unit whether it comes alone (the "
      "tracker's conditional PutItem) or batched. The message record of the send "
      "path is one more write unit per email. Fixed monthly costs are not per email and not "
      "counted: the dashboard ($3), 14 alarms ($1.40) and about 30 custom metrics ($9).")
print()
print("Where the rest could come from, each with its price: storing a message's Send and "
      "Delivery as one item when they arrive in the same batch (about $0.60; the duplicate "
      "check then reads both keys); eventually consistent duplicate checks (about $0.20; a "
      "duplicate arriving within a second of the first could count twice); an EventBridge "
      "event destination instead of SNS; not publishing Open and Click for tenants that do "
      "not track them.")

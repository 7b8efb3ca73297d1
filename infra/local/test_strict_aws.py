"""The local emulator refuses what AWS refuses: one test per rule, each asserting AWS's error
code and HTTP status, and one test per service that the boundary case still succeeds.

Starts its own moto_server.py on a free 127.0.0.1 port (stopped by its PID) and talks to it
with boto3, client-side parameter validation off: the Rust SDK does not check lengths either.
Run: .venv/bin/python -m unittest infra/local/test_strict_aws.py -v (or `make test-emulator`).
"""

import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
KIB = 1024
MIB = 1024 * 1024

emulator = None
endpoint = None
log = None


def setUpModule():
    global emulator, endpoint, log
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tempfile.TemporaryFile()
    emulator = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "moto_server.py"), "-H", "127.0.0.1", "-p", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if emulator.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"moto_server.py exited: {log.read().decode()[-2000:]}")
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    tearDownModule()
    raise RuntimeError("moto_server.py did not answer within 30 s")


def tearDownModule():
    if emulator is not None and emulator.poll() is None:
        os.kill(emulator.pid, 15)
        try:
            emulator.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(emulator.pid, 9)
            emulator.wait(timeout=5)
    if log is not None:
        log.close()


def client(service):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )


class Strict(unittest.TestCase):
    def assertRefused(self, call, code, message=None, status=400):
        with self.assertRaises(ClientError) as caught:
            call()
        response = caught.exception.response
        self.assertEqual(response["Error"]["Code"], code, response["Error"])
        self.assertEqual(response["ResponseMetadata"]["HTTPStatusCode"], status)
        if message is not None:
            self.assertIn(message, response["Error"]["Message"])
        return response


# --- DynamoDB -------------------------------------------------------------------------------


def key(pk, sk="s"):
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def item(pk, **attributes):
    return {**key(pk), **attributes}


def put(it):
    return {"PutRequest": {"Item": it}}


def delete(k):
    return {"DeleteRequest": {"Key": k}}


# 10,000 strings of 40 bytes: 400,000 bytes by moto's count (under its ~405,000), 410,003 by
# DynamoDB's (3 + 1 per list element): over 400 KB (409,600 bytes).
OVER_400KB_BY_LIST_OVERHEAD = {"L": [{"S": "x" * 40}] * 10_000}
DUPLICATES = "Provided list of item keys contains duplicates"
ONE_ITEM = "Transaction request cannot include multiple operations on one item"
TOO_LARGE = "Item size has exceeded the maximum allowed size"
EMPTY_KEY = "The AttributeValue for a key attribute cannot contain an empty string value"


class DynamoDb(Strict):
    @classmethod
    def setUpClass(cls):
        cls.ddb = client("dynamodb")
        cls.ddb.create_table(
            TableName="strict",
            KeySchema=[
                {"AttributeName": "PK", "KeyType": "HASH"},
                {"AttributeName": "SK", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "PK", "AttributeType": "S"},
                {"AttributeName": "SK", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        # Another key schema: the wrapper reads each table's, it does not assume PK/SK.
        cls.ddb.create_table(
            TableName="by-id",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST",
        )

    def batch_write(self, request_items):
        return lambda: self.ddb.batch_write_item(RequestItems=request_items)

    def test_batch_write_two_puts_of_one_item(self):
        puts = [put(item("a", n={"S": "1"})), put(item("a", n={"S": "2"}))]
        self.assertRefused(self.batch_write({"strict": puts}), "ValidationException", DUPLICATES)
        # Numbers are keys by value: 1 and 1.0 are one item.
        puts = [put({"id": {"N": "1"}}), put({"id": {"N": "1.0"}, "x": {"S": "y"}})]
        self.assertRefused(self.batch_write({"by-id": puts}), "ValidationException", DUPLICATES)

    def test_batch_write_put_and_delete_of_one_item(self):
        writes = [put(item("a")), delete(key("a"))]
        self.assertRefused(self.batch_write({"strict": writes}), "ValidationException", DUPLICATES)

    def test_batch_write_over_25_requests(self):
        many = [put(item(str(i))) for i in range(26)]
        self.assertRefused(
            self.batch_write({"strict": many}),
            "ValidationException",
            "Member must have length less than or equal to 25",
        )
        across = {
            "strict": [put(item(str(i))) for i in range(13)],
            "by-id": [put({"id": {"N": str(i)}}) for i in range(13)],
        }
        self.assertRefused(
            self.batch_write(across),
            "ValidationException",
            "Too many items requested for the BatchWriteItem call",
        )

    def test_batch_write_25_distinct_requests_succeeds(self):
        writes = [put(item(f"ok{i}")) for i in range(24)] + [delete(key("ok-gone"))]
        self.batch_write({"strict": writes})()
        got = self.ddb.get_item(TableName="strict", Key=key("ok23"))
        self.assertIn("Item", got)

    def test_batch_get_duplicate_keys(self):
        self.assertRefused(
            lambda: self.ddb.batch_get_item(
                RequestItems={"strict": {"Keys": [key("a"), key("a")]}}
            ),
            "ValidationException",
            DUPLICATES,
        )

    def test_batch_get_over_100_keys(self):
        keys = [key(str(i)) for i in range(101)]
        self.assertRefused(
            lambda: self.ddb.batch_get_item(RequestItems={"strict": {"Keys": keys}}),
            "ValidationException",
        )

    def test_batch_get_100_keys_succeeds(self):
        keys = [key(str(i)) for i in range(100)]
        self.ddb.batch_get_item(RequestItems={"strict": {"Keys": keys}})

    def test_transact_write_over_100_actions(self):
        actions = [{"Put": {"TableName": "strict", "Item": item(f"t{i}")}} for i in range(101)]
        self.assertRefused(
            lambda: self.ddb.transact_write_items(TransactItems=actions),
            "ValidationException",
            "Member must have length less than or equal to 100",
        )

    def test_transact_write_two_actions_on_one_item(self):
        actions = [
            {"Put": {"TableName": "strict", "Item": item("tx")}},
            {
                "Update": {
                    "TableName": "strict",
                    "Key": key("tx"),
                    "UpdateExpression": "SET n = :n",
                    "ExpressionAttributeValues": {":n": {"N": "1"}},
                }
            },
        ]
        self.assertRefused(
            lambda: self.ddb.transact_write_items(TransactItems=actions),
            "ValidationException",
            ONE_ITEM,
        )

    def test_transact_get_over_100_items(self):
        gets = [{"Get": {"TableName": "strict", "Key": key(str(i))}} for i in range(101)]
        self.assertRefused(
            lambda: self.ddb.transact_get_items(TransactItems=gets), "ValidationException"
        )

    def test_transact_get_one_item_twice(self):
        gets = [{"Get": {"TableName": "strict", "Key": key("a")}}] * 2
        self.assertRefused(
            lambda: self.ddb.transact_get_items(TransactItems=gets), "ValidationException", ONE_ITEM
        )

    def test_item_over_400kb(self):
        big = item("big", l=OVER_400KB_BY_LIST_OVERHEAD)
        calls = {
            "PutItem": lambda: self.ddb.put_item(TableName="strict", Item=big),
            "PutItem string": lambda: self.ddb.put_item(
                TableName="strict", Item=item("big", s={"S": "x" * 410_000})
            ),
            "BatchWriteItem": self.batch_write({"strict": [put(big)]}),
            "TransactWriteItems": lambda: self.ddb.transact_write_items(
                TransactItems=[{"Put": {"TableName": "strict", "Item": big}}]
            ),
        }
        for name, call in calls.items():
            with self.subTest(name):
                self.assertRefused(call, "ValidationException", TOO_LARGE)
        self.assertNotIn("Item", self.ddb.get_item(TableName="strict", Key=key("big")))

    def test_update_item_over_400kb(self):
        self.ddb.put_item(TableName="strict", Item=item("grow", a={"S": "x" * 300_000}))
        self.assertRefused(
            lambda: self.ddb.update_item(
                TableName="strict",
                Key=key("grow"),
                UpdateExpression="SET b = :b",
                ExpressionAttributeValues={":b": {"S": "y" * 110_000}},
            ),
            "ValidationException",
            "Item size to update has exceeded the maximum allowed size",
        )

    def test_empty_key_attribute(self):
        empty = key("")
        update = {
            "TableName": "strict",
            "Key": empty,
            "UpdateExpression": "SET n = :n",
            "ExpressionAttributeValues": {":n": {"N": "1"}},
        }
        calls = {
            "UpdateItem": lambda: self.ddb.update_item(**update),
            "DeleteItem": lambda: self.ddb.delete_item(TableName="strict", Key=empty),
            "BatchGetItem": lambda: self.ddb.batch_get_item(
                RequestItems={"strict": {"Keys": [empty]}}
            ),
            "BatchWriteItem delete": self.batch_write({"strict": [delete(empty)]}),
            "TransactWriteItems": lambda: self.ddb.transact_write_items(
                TransactItems=[{"Update": update}]
            ),
            "TransactGetItems": lambda: self.ddb.transact_get_items(
                TransactItems=[{"Get": {"TableName": "strict", "Key": empty}}]
            ),
        }
        for name, call in calls.items():
            with self.subTest(name):
                self.assertRefused(call, "ValidationException", EMPTY_KEY)

    def test_set_with_duplicate_values(self):
        calls = {
            "PutItem SS": lambda: self.ddb.put_item(
                TableName="strict", Item=item("set", s={"SS": ["a", "a"]})
            ),
            "PutItem NS by value": lambda: self.ddb.put_item(
                TableName="strict", Item=item("set", s={"NS": ["1", "1.0"]})
            ),
            "PutItem nested BS": lambda: self.ddb.put_item(
                TableName="strict", Item=item("set", m={"M": {"b": {"BS": [b"x", b"x"]}}})
            ),
            "BatchWriteItem": self.batch_write(
                {"strict": [put(item("set", s={"SS": ["a", "a"]}))]}
            ),
            "UpdateItem value": lambda: self.ddb.update_item(
                TableName="strict",
                Key=key("set"),
                UpdateExpression="ADD s :s",
                ExpressionAttributeValues={":s": {"SS": ["b", "b"]}},
            ),
        }
        for name, call in calls.items():
            with self.subTest(name):
                self.assertRefused(call, "ValidationException", "contains duplicates")


# --- SQS ------------------------------------------------------------------------------------


class Sqs(Strict):
    @classmethod
    def setUpClass(cls):
        cls.sqs = client("sqs")
        cls.url = cls.sqs.create_queue(QueueName="strict")["QueueUrl"]

    def assertRefused(self, call, code, message=None, status=400):
        response = super().assertRefused(call, code, message, status)
        # What both SDKs read the code from (the Rust SDK matches its error variants on it).
        headers = response["ResponseMetadata"]["HTTPHeaders"]
        self.assertEqual(headers["x-amzn-query-error"], f"{code};Sender")
        return response

    def send(self, body, **more):
        return lambda: self.sqs.send_message(QueueUrl=self.url, MessageBody=body, **more)

    def batch(self, operation, entries, url=None):
        return lambda: getattr(self.sqs, operation)(QueueUrl=url or self.url, Entries=entries)

    queues = itertools.count()

    def received(self, count):
        """A new queue's URL and the receipt handles of `count` messages received from it."""
        url = self.sqs.create_queue(QueueName=f"strict-{next(self.queues)}")["QueueUrl"]
        for i in range(count):
            self.sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
        handles = []
        for _ in range(count + 5):
            got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            handles += [m["ReceiptHandle"] for m in got.get("Messages", [])]
            if len(handles) >= count:
                break
        self.assertEqual(len(handles), count)
        return url, handles

    def test_send_message_empty_body(self):
        self.assertRefused(self.send(""), "MissingParameter", "MessageBody")

    def test_send_message_over_1mib(self):
        attribute = {"a": {"DataType": "String", "StringValue": "y" * 100}}
        cases = {
            "bytes, not characters": self.send("é" * (MIB // 2 + 1)),
            "body and attributes": self.send("x" * (MIB - 100), MessageAttributes=attribute),
        }
        for name, call in cases.items():
            with self.subTest(name):
                self.assertRefused(call, "InvalidParameterValue", "shorter than 1048576 bytes")

    def test_send_message_over_queue_maximum_message_size(self):
        small = self.sqs.create_queue(
            QueueName="strict-small", Attributes={"MaximumMessageSize": "1024"}
        )["QueueUrl"]
        self.assertRefused(
            lambda: self.sqs.send_message(
                QueueUrl=small,
                MessageBody="x" * 1000,
                MessageAttributes={"a": {"DataType": "String", "StringValue": "y" * 100}},
            ),
            "InvalidParameterValue",
            "shorter than 1024 bytes",
        )

    def test_send_message_invalid_characters(self):
        for body in ("a\x01b", "a\ufffeb"):
            with self.subTest(repr(body)):
                self.assertRefused(self.send(body), "InvalidMessageContents")

    def test_send_message_empty_attribute_value(self):
        empty = {"reason": {"DataType": "String", "StringValue": ""}}
        self.assertRefused(self.send("x", MessageAttributes=empty), "InvalidParameterValue")
        entries = [{"Id": "a", "MessageBody": "x", "MessageAttributes": empty}]
        self.assertRefused(self.batch("send_message_batch", entries), "InvalidParameterValue")

    def test_send_message_delay_out_of_range(self):
        for delay in (-1, 901):
            with self.subTest(delay):
                self.assertRefused(self.send("x", DelaySeconds=delay), "InvalidParameterValue")

    def test_change_message_visibility_out_of_range(self):
        url, (handle,) = self.received(1)
        for timeout in (-1, 43_201):
            with self.subTest(timeout):
                self.assertRefused(
                    lambda: self.sqs.change_message_visibility(
                        QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=timeout
                    ),
                    "InvalidParameterValue",
                )

    def test_receive_message_out_of_range(self):
        for name, value in (("MaxNumberOfMessages", 11), ("WaitTimeSeconds", 21)):
            with self.subTest(name):
                self.assertRefused(
                    lambda: self.sqs.receive_message(QueueUrl=self.url, **{name: value}),
                    "InvalidParameterValue",
                )

    def test_batch_without_entries(self):
        for operation in (
            "send_message_batch",
            "delete_message_batch",
            "change_message_visibility_batch",
        ):
            with self.subTest(operation):
                self.assertRefused(
                    self.batch(operation, []), "AWS.SimpleQueueService.EmptyBatchRequest"
                )

    def test_batch_over_10_entries(self):
        url, handles = self.received(11)
        entries = {
            "send_message_batch": [{"Id": f"e{i}", "MessageBody": "x"} for i in range(11)],
            "delete_message_batch": [
                {"Id": f"e{i}", "ReceiptHandle": h} for i, h in enumerate(handles)
            ],
            "change_message_visibility_batch": [
                {"Id": f"e{i}", "ReceiptHandle": h, "VisibilityTimeout": 0}
                for i, h in enumerate(handles)
            ],
        }
        for operation, batch in entries.items():
            with self.subTest(operation):
                self.assertRefused(
                    self.batch(operation, batch, url),
                    "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                )

    def test_batch_entry_ids_not_distinct(self):
        url, (first, second) = self.received(2)
        entries = {
            "send_message_batch": [
                {"Id": "e", "MessageBody": "x"},
                {"Id": "e", "MessageBody": "y"},
            ],
            "delete_message_batch": [
                {"Id": "e", "ReceiptHandle": first},
                {"Id": "e", "ReceiptHandle": second},
            ],
            "change_message_visibility_batch": [
                {"Id": "e", "ReceiptHandle": first, "VisibilityTimeout": 0},
                {"Id": "e", "ReceiptHandle": second, "VisibilityTimeout": 0},
            ],
        }
        for operation, batch in entries.items():
            with self.subTest(operation):
                self.assertRefused(
                    self.batch(operation, batch, url),
                    "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
                )

    def test_send_message_batch_over_1mib(self):
        attribute = {"a": {"DataType": "String", "StringValue": "y" * 1000}}
        entries = [
            {"Id": f"e{i}", "MessageBody": "x" * (MIB // 10), "MessageAttributes": attribute}
            for i in range(10)
        ]
        self.assertRefused(
            self.batch("send_message_batch", entries), "AWS.SimpleQueueService.BatchRequestTooLong"
        )

    def test_exactly_1mib_and_10_entries_succeed(self):
        attribute = {"a": {"DataType": "String", "StringValue": "y" * 93}}  # 1 + 6 + 93 bytes
        self.send("x" * (MIB - 100), MessageAttributes=attribute)()
        bodies = ["x" * (MIB // 10)] * 9 + ["x" * (MIB - 9 * (MIB // 10))]
        entries = [{"Id": f"e{i}", "MessageBody": body} for i, body in enumerate(bodies)]
        sent = self.batch("send_message_batch", entries)()
        self.assertEqual(len(sent["Successful"]), 10, sent.get("Failed"))


# --- SNS ------------------------------------------------------------------------------------


class Sns(Strict):
    @classmethod
    def setUpClass(cls):
        cls.sns = client("sns")
        cls.topic = cls.sns.create_topic(Name="strict")["TopicArn"]

    def publish(self, message, **more):
        return lambda: self.sns.publish(TopicArn=self.topic, Message=message, **more)

    def test_publish_over_256kib(self):
        attribute = {"a": {"DataType": "String", "StringValue": "y" * 100}}
        cases = {
            "bytes, not characters": self.publish("é" * (128 * KIB + 1)),
            "body and attributes": self.publish(
                "x" * (256 * KIB - 100), MessageAttributes=attribute
            ),
            "binary attribute": self.publish(
                "x" * (256 * KIB - 100),
                MessageAttributes={"b": {"DataType": "Binary", "BinaryValue": b"\0" * 100}},
            ),
        }
        for name, call in cases.items():
            with self.subTest(name):
                self.assertRefused(call, "InvalidParameter", "Invalid parameter: Message too long")

    def test_publish_exactly_256kib_succeeds(self):
        attribute = {"a": {"DataType": "String", "StringValue": "y" * 93}}  # 1 + 6 + 93 bytes
        self.publish("x" * (256 * KIB - 100), MessageAttributes=attribute)()

    def test_publish_batch_over_256kib(self):
        entries = [{"Id": f"e{i}", "Message": "é" * (16 * KIB)} for i in range(10)]
        self.assertRefused(
            lambda: self.sns.publish_batch(TopicArn=self.topic, PublishBatchRequestEntries=entries),
            "BatchRequestTooLong",
        )

    def test_publish_batch_over_10_entries(self):
        entries = [{"Id": f"e{i}", "Message": "x"} for i in range(11)]
        self.assertRefused(
            lambda: self.sns.publish_batch(TopicArn=self.topic, PublishBatchRequestEntries=entries),
            "TooManyEntriesInBatchRequest",
        )

    def test_sms_over_1600_characters(self):
        self.assertRefused(
            lambda: self.sns.publish(PhoneNumber="+15555550100", Message="x" * 1601),
            "InvalidParameter",
        )


class ErrorFormat(unittest.TestCase):
    def test_wire_format(self):
        """The wrapper's errors as AWS sends them: DynamoDB's `__type`; SQS's `__type` and
        the x-amzn-query-error header (the code both SDKs report). Requests moto accepts."""
        client("dynamodb").create_table(
            TableName="wire",
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

        def post(service, target, body):
            scope = f"test/20260101/us-east-1/{service}/aws4_request"
            request = urllib.request.Request(
                endpoint + "/",
                data=json.dumps(body).encode(),
                headers={
                    "Content-Type": "application/x-amz-json-1.0",
                    "X-Amz-Target": target,
                    "Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host,"
                    " Signature=0",
                },
            )
            with self.assertRaises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(request, timeout=10)
            error = caught.exception
            return error.code, error.headers, json.loads(error.read())

        dup = [
            {"PutRequest": {"Item": {"k": {"S": "a"}}}},
            {"DeleteRequest": {"Key": {"k": {"S": "a"}}}},
        ]
        status, _, body = post(
            "dynamodb", "DynamoDB_20120810.BatchWriteItem", {"RequestItems": {"wire": dup}}
        )
        self.assertEqual((status, body["__type"].rsplit("#", 1)[1]), (400, "ValidationException"))
        self.assertEqual(body["message"], DUPLICATES)

        url = client("sqs").create_queue(QueueName="wire")["QueueUrl"]
        entries = [{"Id": "a", "ReceiptHandle": "x"}, {"Id": "a", "ReceiptHandle": "y"}]
        status, headers, body = post(
            "sqs", "AmazonSQS.DeleteMessageBatch", {"QueueUrl": url, "Entries": entries}
        )
        self.assertEqual(status, 400)
        self.assertEqual(body["__type"], "com.amazonaws.sqs#BatchEntryIdsNotDistinct")
        self.assertEqual(
            headers["x-amzn-query-error"], "AWS.SimpleQueueService.BatchEntryIdsNotDistinct;Sender"
        )


if __name__ == "__main__":
    unittest.main()

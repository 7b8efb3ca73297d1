"""What AWS refuses and moto 5.2.5 accepts, refused here with AWS's own error.

Each rule is one function `rule(operation, request, lookups)` registered for the operations it
applies to; it returns a `Refusal` (AWS's HTTP status, error code and message) or None. The
request is the parsed body: DynamoDB and SQS (JSON 1.0) as their JSON, SNS (query protocol) as
the flat form parameters. `lookups` answers what the request alone does not say, from moto:
`key_names(table)` (the table's key attribute names, or None when there is no such table) and
`queue_max_size(queue_url)` (the queue's MaximumMessageSize).

Only rules where moto is more lenient than AWS are here (moto 5.2.5 already refuses, with
AWS's error, e.g. more than 100 keys in BatchGetItem or 11 entries in SendMessageBatch;
test_strict_aws.py checks those too). A malformed request is left to moto: a rule that meets a
shape it does not expect raises, and `check` then passes the request on.
"""

import base64
import collections
import json
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from xml.sax.saxutils import escape

MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's 400 KB (its KB is 1,024 bytes)
MAX_SQS_MESSAGE_BYTES = 1024 * 1024  # 1 MiB since August 2025 (was 256 KiB)
MIN_SQS_MAXIMUM_MESSAGE_SIZE = 1024  # the smallest MaximumMessageSize a queue can have
MAX_SNS_MESSAGE_BYTES = 256 * 1024  # a topic's default MaximumMessageSize
SQS_BATCH_MAX = 10


@dataclass(frozen=True)
class Refusal:
    """An AWS error. `code` is what the SDKs report: DynamoDB's `__type` name, SQS's query
    code (the `x-amzn-query-error` header), SNS's `<Code>`."""

    service: str
    code: str
    message: str
    status: int = 400

    def response(self):
        """(status line, headers, body) in the service's protocol, as AWS sends them."""
        request_id = str(uuid.uuid4())
        if self.service == "sns":
            body = (
                '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
                f"<Error><Type>Sender</Type><Code>{escape(self.code)}</Code>"
                f"<Message>{escape(self.message)}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>"
            ).encode()
            headers = [("Content-Type", "text/xml")]
        else:
            if self.service == "dynamodb":
                error_type = f"com.amazon.coral.validate#{self.code}"
                headers = []
            else:
                # SQS's JSON protocol: the shape in `__type`, the query code in a header (the
                # Rust SDK and botocore both report the header's code).
                error_type = f"com.amazonaws.sqs#{self.code.rsplit('.', 1)[-1]}"
                headers = [("x-amzn-query-error", f"{self.code};Sender")]
            body = json.dumps({"__type": error_type, "message": self.message}).encode()
            headers.append(("Content-Type", "application/x-amz-json-1.0"))
        headers += [("x-amzn-RequestId", request_id), ("Content-Length", str(len(body)))]
        return f"{self.status} Bad Request", headers, body


RULES = collections.defaultdict(list)


def rule(service, *operations):
    """Registers a rule for these operations of the service."""

    def register(function):
        for operation in operations:
            RULES[(service, operation)].append(function)
        return function

    return register


def checks(service, operation):
    """Whether any rule applies (so the caller parses only those requests' bodies)."""
    return (service, operation) in RULES


def check(service, operation, request, lookups):
    """The first refusal of the operation's rules, or None."""
    for function in RULES.get((service, operation), ()):
        try:
            refusal = function(operation, request, lookups)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError, InvalidOperation):
            continue  # a shape the rule does not expect: moto answers it
        if refusal:
            return refusal
    return None


# --- DynamoDB -------------------------------------------------------------------------------


def dynamodb_invalid(message):
    return Refusal("dynamodb", "ValidationException", message)


def only(value):
    """The (type, value) of an AttributeValue ({"S": "x"})."""
    ((kind, inner),) = value.items()
    return kind, inner


def number_size(text):
    """1 byte per two significant digits, plus 1 (leading and trailing zeroes trimmed)."""
    digits = len(Decimal(text).normalize().as_tuple().digits)
    return (digits + 1) // 2 + 1


def value_size(value):
    kind, inner = only(value)
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return number_size(inner)
    if kind == "B":
        return len(base64.b64decode(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in inner)
    if kind == "NS":
        return sum(number_size(n) for n in inner)
    if kind == "BS":
        return sum(len(base64.b64decode(b)) for b in inner)
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in inner.items())
    raise ValueError(kind)


def item_size(item):
    """An item's size as DynamoDB counts it: each attribute's name (UTF-8 bytes) plus its
    value (see `value_size`)."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def written_items(operation, request):
    """(table, item) of every whole item the request writes."""
    if operation == "PutItem":
        yield request["TableName"], request["Item"]
    elif operation == "BatchWriteItem":
        for table, writes in request["RequestItems"].items():
            for write in writes:
                if "PutRequest" in write:
                    yield table, write["PutRequest"]["Item"]
    elif operation == "TransactWriteItems":
        for action in request["TransactItems"]:
            if "Put" in action:
                yield action["Put"]["TableName"], action["Put"]["Item"]


def request_keys(operation, request):
    """(table, key) of every primary key the request names in a `Key`."""
    if operation in ("DeleteItem", "UpdateItem"):
        yield request["TableName"], request["Key"]
    elif operation == "BatchGetItem":
        for table, read in request["RequestItems"].items():
            for key in read["Keys"]:
                yield table, key
    elif operation == "BatchWriteItem":
        for table, writes in request["RequestItems"].items():
            for write in writes:
                if "DeleteRequest" in write:
                    yield table, write["DeleteRequest"]["Key"]
    elif operation in ("TransactWriteItems", "TransactGetItems"):
        for action in request["TransactItems"]:
            for kind, detail in action.items():
                if kind != "Put":
                    yield detail["TableName"], detail["Key"]


def expression_values(operation, request):
    """Every ExpressionAttributeValues map of the request."""
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        yield request.get("ExpressionAttributeValues") or {}
    elif operation == "TransactWriteItems":
        for action in request["TransactItems"]:
            for detail in action.values():
                yield detail.get("ExpressionAttributeValues") or {}


def canonical(value):
    """A key attribute's value, comparable across requests (numbers by value)."""
    kind, inner = only(value)
    return kind, str(Decimal(inner).normalize()) if kind == "N" else inner


@rule("dynamodb", "BatchWriteItem")
def batch_write_at_most_25_requests(operation, request, lookups):
    """BatchWriteItem: 1 to 25 requests per table, and "more than 25 requests in the batch"
    are refused.
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html"""
    for table, writes in request["RequestItems"].items():
        if not 1 <= len(writes) <= 25:
            return dynamodb_invalid(
                f"1 validation error detected: Value '{{{table}=[{len(writes)} write requests]}}'"
                " at 'requestItems' failed to satisfy constraint: Map value must satisfy"
                " constraint: [Member must have length less than or equal to 25, Member must"
                " have length greater than or equal to 1]"
            )
    if sum(len(writes) for writes in request["RequestItems"].values()) > 25:
        return dynamodb_invalid("Too many items requested for the BatchWriteItem call")
    return None


@rule("dynamodb", "BatchWriteItem")
def batch_write_keys_distinct(operation, request, lookups):
    """BatchWriteItem: two requests on one item (two puts with the same key, or a put and a
    delete) are refused. moto only refuses two identical puts or two identical deletes.
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html"""
    for table, writes in request["RequestItems"].items():
        names = lookups.key_names(table)
        if not names:
            continue
        seen = set()
        for write in writes:
            if "PutRequest" in write:
                item = write["PutRequest"]["Item"]
                key = tuple(canonical(item[name]) for name in names)
            else:
                key_map = write["DeleteRequest"]["Key"]
                key = tuple(canonical(key_map[name]) for name in names)
            if key in seen:
                return dynamodb_invalid("Provided list of item keys contains duplicates")
            seen.add(key)
    return None


@rule("dynamodb", "TransactGetItems")
def transact_get_items_distinct(operation, request, lookups):
    """TransactGetItems: two Gets of one item are refused (as TransactWriteItems refuses two
    actions on one item, which moto does check).
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactGetItems.html"""
    seen = set()
    for action in request["TransactItems"]:
        get = action["Get"]
        key = (get["TableName"], tuple(sorted((n, canonical(v)) for n, v in get["Key"].items())))
        if key in seen:
            return dynamodb_invalid(
                "Transaction request cannot include multiple operations on one item"
            )
        seen.add(key)
    return None


@rule("dynamodb", "PutItem", "BatchWriteItem", "TransactWriteItems")
def items_at_most_400kb(operation, request, lookups):
    """An item over 400 KB is refused, sized as DynamoDB documents: attribute names' UTF-8
    bytes plus values (strings' UTF-8 bytes, binaries' raw bytes, numbers about 1 byte per two
    significant digits + 1, booleans and nulls 1, lists and maps 3 + 1 per element).
    moto counts without the list and map overheads and refuses only from its own ~405,000.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
    (UpdateItem is left to moto, which refuses from its own count: the size after an update
    needs the stored item and the update expression evaluated.)"""
    for _table, item in written_items(operation, request):
        if item_size(item) > MAX_ITEM_BYTES:
            return dynamodb_invalid("Item size has exceeded the maximum allowed size")
    return None


@rule(
    "dynamodb",
    "DeleteItem",
    "UpdateItem",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "TransactGetItems",
)
def key_attributes_not_empty(operation, request, lookups):
    """A key attribute whose String or Binary value is empty is refused. moto checks it in
    PutItem and GetItem but not in the other operations' `Key`s.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutItem.html"""
    for _table, key in request_keys(operation, request):
        for name, value in key.items():
            kind, inner = only(value)
            if kind in ("S", "B") and inner == "":
                what = "string" if kind == "S" else "binary"
                return dynamodb_invalid(
                    "One or more parameter values are not valid. The AttributeValue for a key"
                    f" attribute cannot contain an empty {what} value. Key: {name}"
                )
    return None


def duplicated_set(value):
    """The first set (SS, NS or BS, at any depth) holding one element twice, or None."""
    kind, inner = only(value)
    if kind in ("SS", "NS", "BS"):
        if kind == "NS":
            members = [Decimal(n) for n in inner]
        elif kind == "BS":
            members = [base64.b64decode(b) for b in inner]
        else:
            members = inner
        return inner if len(set(members)) != len(members) else None
    children = inner if kind == "L" else inner.values() if kind == "M" else ()
    for child in children:
        found = duplicated_set(child)
        if found is not None:
            return found
    return None


@rule("dynamodb", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
def sets_without_duplicates(operation, request, lookups):
    """A set (SS, NS, BS) whose values are not unique is refused, in an item or in
    ExpressionAttributeValues. moto stores it.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html"""
    for _table, item in written_items(operation, request):
        for value in item.values():
            found = duplicated_set(value)
            if found is not None:
                return dynamodb_invalid(
                    "One or more parameter values were invalid: Input collection"
                    f" [{', '.join(found)}] contains duplicates."
                )
    for values in expression_values(operation, request):
        for name, value in values.items():
            if duplicated_set(value) is not None:
                return dynamodb_invalid(
                    "ExpressionAttributeValues contains invalid value: Input collection"
                    f" contains duplicates for key {name}"
                )
    return None


# --- SQS (JSON protocol) --------------------------------------------------------------------


def sqs_error(code, message):
    return Refusal("sqs", code, message)


def sqs_message_size(body, attributes):
    """Body plus every attribute's name, type and value, in bytes."""
    size = len(body.encode())
    for name, value in (attributes or {}).items():
        size += len(name.encode()) + len(value["DataType"].encode())
        if "BinaryValue" in value:
            size += len(base64.b64decode(value["BinaryValue"]))
        else:
            size += len(value.get("StringValue", "").encode())
    return size


NOT_ALLOWED_IN_SQS = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@rule("sqs", "SendMessage")
def message_body_not_empty(operation, request, lookups):
    """SendMessage: the body's minimum size is one character.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html"""
    if request.get("MessageBody", "") == "":
        return sqs_error("MissingParameter", "The request must contain the parameter MessageBody.")
    return None


@rule("sqs", "SendMessage")
def message_characters_allowed(operation, request, lookups):
    """SendMessage: a body with characters outside #x9 | #xA | #xD | #x20 to #xD7FF |
    #xE000 to #xFFFD | #x10000 to #x10FFFF is refused with InvalidMessageContents.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html"""
    found = NOT_ALLOWED_IN_SQS.search(request["MessageBody"])
    if found:
        return sqs_error(
            "InvalidMessageContents",
            f"Invalid binary character '#x{ord(found.group()):X}' was found in the message"
            " body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF |"
            " #xE000 to #xFFFD | #x10000 to #x10FFFF",
        )
    return None


@rule("sqs", "SendMessage")
def message_within_queue_limit(operation, request, lookups):
    """SendMessage: the body and every message attribute's name, type and value count towards
    the size limit, 1 MiB (1,048,576 bytes) or the queue's smaller MaximumMessageSize. moto
    compares the body's characters alone.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_MessageAttributeValue.html"""
    size = sqs_message_size(request["MessageBody"], request.get("MessageAttributes"))
    if size <= MIN_SQS_MAXIMUM_MESSAGE_SIZE:
        return None
    limit = MAX_SQS_MESSAGE_BYTES
    if size <= limit:
        limit = min(limit, lookups.queue_max_size(request["QueueUrl"]))
    if size > limit:
        return sqs_error(
            "InvalidParameterValue",
            f"One or more parameters are invalid. Reason: Message must be shorter than {limit}"
            " bytes.",
        )
    return None


@rule("sqs", "SendMessage", "SendMessageBatch")
def message_attributes_not_empty(operation, request, lookups):
    """A message attribute's name and value must not be empty.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_MessageAttributeValue.html"""
    entries = request["Entries"] if operation == "SendMessageBatch" else [request]
    for entry in entries:
        for name, value in (entry.get("MessageAttributes") or {}).items():
            if name == "":
                return sqs_error(
                    "InvalidParameterValue",
                    "The request must contain non-empty message attribute name.",
                )
            if value.get("StringValue", value.get("BinaryValue", "")) == "":
                return sqs_error(
                    "InvalidParameterValue",
                    f"Message (user) attribute '{name}' must contain a non-empty value of type"
                    f" '{value.get('DataType', 'String')}'.",
                )
    return None


@rule("sqs", "SendMessage")
def delay_seconds_in_range(operation, request, lookups):
    """SendMessage: DelaySeconds is 0 to 900. moto refuses over 900 but takes a negative one.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html"""
    delay = request.get("DelaySeconds")
    if delay is not None and not 0 <= int(delay) <= 900:
        return sqs_error(
            "InvalidParameterValue",
            f"Value {delay} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be"
            " >= 0 and <= 900.",
        )
    return None


@rule("sqs", "ChangeMessageVisibility")
def visibility_timeout_in_range(operation, request, lookups):
    """ChangeMessageVisibility: VisibilityTimeout is 0 to 43,200 (12 hours). moto refuses over
    43,200 but takes a negative one.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html"""
    timeout = int(request["VisibilityTimeout"])
    if not 0 <= timeout <= 43200:
        return sqs_error(
            "InvalidParameterValue",
            f"Value {timeout} for parameter VisibilityTimeout is invalid. Reason:"
            " VisibilityTimeout must be an integer between 0 and 43200.",
        )
    return None


def batch_request_entry(operation):
    return operation + "RequestEntry"


@rule("sqs", "DeleteMessageBatch", "ChangeMessageVisibilityBatch")
def batch_not_empty(operation, request, lookups):
    """A batch request without entries is refused (moto refuses an empty SendMessageBatch
    and DeleteMessageBatch).
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibilityBatch.html"""
    if not request.get("Entries"):
        return sqs_error(
            "AWS.SimpleQueueService.EmptyBatchRequest",
            f"There should be at least one {batch_request_entry(operation)} in the request.",
        )
    return None


@rule("sqs", "DeleteMessageBatch", "ChangeMessageVisibilityBatch")
def batch_at_most_10_entries(operation, request, lookups):
    """A batch request takes at most 10 entries (moto refuses 11 only in SendMessageBatch).
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessageBatch.html
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibilityBatch.html"""
    count = len(request["Entries"])
    if count > SQS_BATCH_MAX:
        return sqs_error(
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            f"Maximum number of entries per request are {SQS_BATCH_MAX}. You have sent {count}.",
        )
    return None


@rule("sqs", "DeleteMessageBatch", "ChangeMessageVisibilityBatch")
def batch_entry_ids_distinct(operation, request, lookups):
    """A batch request's entry Ids must be distinct (moto checks SendMessageBatch's Ids, and
    DeleteMessageBatch's receipt handles rather than its Ids).
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessageBatch.html"""
    seen = set()
    for entry in request["Entries"]:
        if entry["Id"] in seen:
            return sqs_error(
                "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", f"Id {entry['Id']} repeated."
            )
        seen.add(entry["Id"])
    return None


@rule("sqs", "SendMessageBatch")
def batch_total_within_1mib(operation, request, lookups):
    """SendMessageBatch: the sum of the messages' sizes (bodies and message attributes) is at
    most 1 MiB (1,048,576 bytes). moto sums the bodies' characters alone.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html"""
    total = sum(
        sqs_message_size(entry["MessageBody"], entry.get("MessageAttributes"))
        for entry in request["Entries"]
    )
    if total > MAX_SQS_MESSAGE_BYTES:
        return sqs_error(
            "AWS.SimpleQueueService.BatchRequestTooLong",
            f"Batch requests cannot be longer than {MAX_SQS_MESSAGE_BYTES} bytes. You have sent"
            f" {total} bytes.",
        )
    return None


# --- SNS (query protocol) -------------------------------------------------------------------


def sns_message_size(params, prefix):
    """The message at `prefix` plus its attributes' names, types and values, in bytes."""
    size = len(params.get(prefix + "Message", "").encode())
    for n in range(1, len(params) + 1):
        entry = f"{prefix}MessageAttributes.entry.{n}."
        if entry + "Name" not in params:
            break
        size += len(params[entry + "Name"].encode())
        size += len(params.get(entry + "Value.DataType", "").encode())
        if entry + "Value.BinaryValue" in params:
            size += len(base64.b64decode(params[entry + "Value.BinaryValue"]))
        else:
            size += len(params.get(entry + "Value.StringValue", "").encode())
    return size


@rule("sns", "Publish")
def publish_within_256kib(operation, request, lookups):
    """Publish (not SMS): a message is at most 256 KiB, 262,144 bytes (not characters), body
    and message attributes together. moto counts the body's characters alone. (A topic's
    MaximumMessageSize can raise the limit to 1 MiB; moto ignores that attribute, so the
    default applies here.)
    https://docs.aws.amazon.com/sns/latest/api/API_Publish.html"""
    if request.get("PhoneNumber"):
        return None  # SMS: 1,600 characters, which moto checks
    if sns_message_size(request, "") > MAX_SNS_MESSAGE_BYTES:
        return Refusal("sns", "InvalidParameter", "Invalid parameter: Message too long")
    return None


@rule("sns", "PublishBatch")
def publish_batch_within_256kib(operation, request, lookups):
    """PublishBatch: the messages (bodies and attributes) total at most 256 KiB.
    https://docs.aws.amazon.com/sns/latest/api/API_PublishBatch.html"""
    total = 0
    for n in range(1, len(request) + 1):
        prefix = f"PublishBatchRequestEntries.member.{n}."
        if prefix + "Id" not in request:
            break
        total += sns_message_size(request, prefix)
    if total > MAX_SNS_MESSAGE_BYTES:
        return Refusal(
            "sns",
            "BatchRequestTooLong",
            "The length of all the messages put together is more than the limit.",
        )
    return None

//! Reads `template.yaml`: the resources the local stack must create, and each function's
//! environment with `!Ref` and `!GetAtt` resolved against what was created.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, bail};
use serde_norway::Value;

/// The parsed SAM template.
#[derive(Debug, Clone)]
pub struct Template {
    root: Value,
}

/// A DynamoDB table as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub logical_id: String,
    pub attributes: Vec<(String, String)>,
    pub key_schema: Vec<(String, String)>,
    pub gsis: Vec<GsiSpec>,
    pub ttl_attribute: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GsiSpec {
    pub name: String,
    pub key_schema: Vec<(String, String)>,
}

/// An SQS queue as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub logical_id: String,
    /// Queue attributes to set (`VisibilityTimeout`, `MessageRetentionPeriod`, ...).
    pub attributes: Vec<(String, String)>,
    /// The dead-letter queue's logical id and `maxReceiveCount`.
    pub redrive: Option<(String, u32)>,
}

/// A function's SQS event source mapping as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsSourceSpec {
    pub function: String,
    pub queue: String,
    pub batch_size: u32,
    /// `MaximumBatchingWindowInSeconds`: how long Lambda gathers records before invoking.
    pub batching_window_seconds: u32,
    pub report_batch_item_failures: bool,
}

/// An SNS subscription of a queue to a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSpec {
    pub topic: String,
    pub protocol: String,
    pub endpoint: String,
    pub raw: bool,
}

/// Physical names and ARNs of created resources, by logical id, for `!Ref` and `!GetAtt`.
#[derive(Debug, Clone, Default)]
pub struct Physical {
    pub refs: BTreeMap<String, String>,
    pub attributes: BTreeMap<String, String>,
}

impl Physical {
    pub fn get_ref(&self, logical_id: &str) -> anyhow::Result<&str> {
        self.refs
            .get(logical_id)
            .map(String::as_str)
            .with_context(|| format!("no local resource for !Ref {logical_id}"))
    }
}

impl Template {
    /// Every parameter's value: `overrides` first, else its `Default` (a parameter with
    /// neither is an error: the local stack has no one to ask).
    pub fn parameters(&self, overrides: &[(&str, &str)]) -> anyhow::Result<Vec<(String, String)>> {
        let Some(params) = self.root.get("Parameters").and_then(Value::as_mapping) else {
            return Ok(Vec::new());
        };
        params
            .iter()
            .map(|(k, v)| {
                let name = k.as_str().context("a parameter name is not a string")?;
                let value = match overrides.iter().find(|(n, _)| *n == name) {
                    Some((_, value)) => (*value).to_owned(),
                    None => v
                        .get("Default")
                        .map(|d| resolve_value(d, &Physical::default()))
                        .transpose()?
                        .with_context(|| format!("parameter {name} has no Default"))?,
                };
                Ok((name.to_owned(), value))
            })
            .collect()
    }

    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(Self {
            root: serde_norway::from_str(text).context("template.yaml is not YAML")?,
        })
    }

    /// The template next to the workspace (`HERALD_TEMPLATE` overrides).
    pub fn load_default() -> anyhow::Result<Self> {
        let path = std::env::var("HERALD_TEMPLATE")
            .map(Into::into)
            .unwrap_or_else(|_| workspace_root().join("template.yaml"));
        Self::load(&path)
    }

    fn resources(&self) -> impl Iterator<Item = (&str, &str, &Value)> {
        self.root
            .get("Resources")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| {
                Some((
                    k.as_str()?,
                    v.get("Type")?.as_str()?,
                    v.get("Properties").unwrap_or(&Value::Null),
                ))
            })
    }

    /// Logical ids of resources of a CloudFormation type.
    pub fn logical_ids_of(&self, resource_type: &str) -> Vec<String> {
        self.resources()
            .filter(|(_, t, _)| *t == resource_type)
            .map(|(id, _, _)| id.to_owned())
            .collect()
    }

    /// SNS subscriptions of queues: (topic logical id, protocol, endpoint logical id, raw
    /// delivery). Other protocols (the operators' alarm email) have no local counterpart.
    pub fn subscriptions(&self) -> anyhow::Result<Vec<SubscriptionSpec>> {
        self.resources()
            .filter(|(_, t, props)| {
                *t == "AWS::SNS::Subscription"
                    && props
                        .get("Protocol")
                        .and_then(Value::as_str)
                        .unwrap_or("sqs")
                        == "sqs"
            })
            .map(|(id, _, props)| {
                let topic = match props.get("TopicArn") {
                    Some(Value::Tagged(t)) if t.tag == "!Ref" => {
                        t.value.as_str().map(str::to_owned)
                    }
                    _ => None,
                }
                .with_context(|| format!("{id}: TopicArn must be !Ref Topic"))?;
                let endpoint = props
                    .get("Endpoint")
                    .and_then(get_att_target)
                    .with_context(|| format!("{id}: Endpoint must be !GetAtt Queue.Arn"))?;
                Ok(SubscriptionSpec {
                    topic,
                    protocol: props
                        .get("Protocol")
                        .and_then(Value::as_str)
                        .unwrap_or("sqs")
                        .to_owned(),
                    endpoint,
                    raw: props
                        .get("RawMessageDelivery")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                })
            })
            .collect()
    }

    /// The topic SES events go to: the SNS destination of the configuration set's event
    /// destination (`TopicARN: !Ref Topic`).
    pub fn ses_event_topic(&self) -> Option<String> {
        self.resources()
            .filter(|(_, t, _)| *t == "AWS::SES::ConfigurationSetEventDestination")
            .find_map(|(_, _, props)| {
                match props
                    .get("EventDestination")?
                    .get("SnsDestination")?
                    .get("TopicARN")?
                {
                    Value::Tagged(t) if t.tag == "!Ref" => t.value.as_str().map(str::to_owned),
                    _ => None,
                }
            })
    }

    pub fn tables(&self) -> anyhow::Result<Vec<TableSpec>> {
        self.resources()
            .filter(|(_, t, _)| *t == "AWS::DynamoDB::Table")
            .map(|(id, _, props)| {
                let pairs = |v: Option<&Value>, a: &str, b: &str| -> Vec<(String, String)> {
                    v.and_then(Value::as_sequence)
                        .into_iter()
                        .flatten()
                        .filter_map(|e| {
                            Some((
                                e.get(a)?.as_str()?.to_owned(),
                                e.get(b)?.as_str()?.to_owned(),
                            ))
                        })
                        .collect()
                };
                let gsis = props
                    .get("GlobalSecondaryIndexes")
                    .and_then(Value::as_sequence)
                    .into_iter()
                    .flatten()
                    .filter_map(|g| {
                        Some(GsiSpec {
                            name: g.get("IndexName")?.as_str()?.to_owned(),
                            key_schema: pairs(g.get("KeySchema"), "AttributeName", "KeyType"),
                        })
                    })
                    .collect();
                let spec = TableSpec {
                    logical_id: id.to_owned(),
                    attributes: pairs(
                        props.get("AttributeDefinitions"),
                        "AttributeName",
                        "AttributeType",
                    ),
                    key_schema: pairs(props.get("KeySchema"), "AttributeName", "KeyType"),
                    gsis,
                    ttl_attribute: props
                        .get("TimeToLiveSpecification")
                        .filter(|t| t.get("Enabled").and_then(Value::as_bool) == Some(true))
                        .and_then(|t| t.get("AttributeName")?.as_str().map(str::to_owned)),
                };
                if spec.key_schema.is_empty() {
                    bail!("table {id} declares no KeySchema");
                }
                Ok(spec)
            })
            .collect()
    }

    /// Every SQS queue, those without a redrive policy (the dead-letter queues) first.
    pub fn queues(&self) -> anyhow::Result<Vec<QueueSpec>> {
        let mut out: Vec<QueueSpec> = Vec::new();
        for (id, _, props) in self.resources().filter(|(_, t, _)| *t == "AWS::SQS::Queue") {
            let mut attributes = Vec::new();
            for name in [
                "VisibilityTimeout",
                "MessageRetentionPeriod",
                "DelaySeconds",
                "ReceiveMessageWaitTimeSeconds",
            ] {
                if let Some(v) = props.get(name) {
                    attributes.push((name.to_owned(), scalar(v)?));
                }
            }
            let redrive = match props.get("RedrivePolicy") {
                None => None,
                Some(policy) => {
                    let target = policy
                        .get("deadLetterTargetArn")
                        .and_then(get_att_target)
                        .with_context(|| {
                            format!("{id}: deadLetterTargetArn must be !GetAtt Queue.Arn")
                        })?;
                    let max = policy
                        .get("maxReceiveCount")
                        .and_then(Value::as_u64)
                        .with_context(|| format!("{id}: maxReceiveCount"))?;
                    Some((target, u32::try_from(max)?))
                }
            };
            out.push(QueueSpec {
                logical_id: id.to_owned(),
                attributes,
                redrive,
            });
        }
        // Dead-letter queues first, so the queues that name them can.
        out.sort_by_key(|q| q.redrive.is_some());
        Ok(out)
    }

    /// The recurring EventBridge schedules that target a queue: (logical id, rate expression,
    /// queue logical id, input). A `!Ref` expression takes its parameter's default.
    pub fn recurring_schedules(&self) -> anyhow::Result<Vec<(String, String, String, String)>> {
        let params: BTreeMap<String, String> = self.parameters(&[])?.into_iter().collect();
        let mut out = Vec::new();
        for (id, _, props) in self
            .resources()
            .filter(|(_, t, _)| *t == "AWS::Scheduler::Schedule")
        {
            let expression = match props.get("ScheduleExpression") {
                Some(Value::Tagged(t)) if t.tag == "!Ref" => {
                    t.value.as_str().and_then(|p| params.get(p)).cloned()
                }
                Some(v) => v.as_str().map(str::to_owned),
                None => None,
            }
            .with_context(|| format!("{id}: no ScheduleExpression"))?;
            let target = props.get("Target").unwrap_or(&Value::Null);
            let queue = target
                .get("Arn")
                .and_then(get_att_target)
                .with_context(|| format!("{id}: Target.Arn must be !GetAtt Queue.Arn"))?;
            let input = target
                .get("Input")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            out.push((id.to_owned(), expression, queue, input));
        }
        Ok(out)
    }

    /// Every function's SQS event sources.
    pub fn sqs_sources(&self) -> anyhow::Result<Vec<SqsSourceSpec>> {
        let mut out = Vec::new();
        for (id, _, props) in self
            .resources()
            .filter(|(_, t, _)| *t == "AWS::Serverless::Function")
        {
            let events = props.get("Events").and_then(Value::as_mapping);
            for (_, event) in events.into_iter().flatten() {
                if event.get("Type").and_then(Value::as_str) != Some("SQS") {
                    continue;
                }
                let p = event.get("Properties").unwrap_or(&Value::Null);
                let queue = p.get("Queue").and_then(get_att_target).with_context(|| {
                    format!("{id}: an SQS event's Queue must be !GetAtt Queue.Arn")
                })?;
                let batch_size = p.get("BatchSize").and_then(Value::as_u64).unwrap_or(10);
                let window = p
                    .get("MaximumBatchingWindowInSeconds")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                let report = p
                    .get("FunctionResponseTypes")
                    .and_then(Value::as_sequence)
                    .is_some_and(|s| {
                        s.iter()
                            .any(|v| v.as_str() == Some("ReportBatchItemFailures"))
                    });
                out.push(SqsSourceSpec {
                    function: id.to_owned(),
                    queue,
                    batch_size: u32::try_from(batch_size)?,
                    batching_window_seconds: u32::try_from(window)?,
                    report_batch_item_failures: report,
                });
            }
        }
        Ok(out)
    }

    /// A function's environment: the Globals' variables overlaid with its own, every `!Ref`
    /// and `!GetAtt` resolved against `physical`.
    pub fn function_environment(
        &self,
        logical_id: &str,
        physical: &Physical,
    ) -> anyhow::Result<BTreeMap<String, String>> {
        let globals = self.root.get("Globals").and_then(|g| g.get("Function"));
        let own = self
            .resources()
            .find(|(id, t, _)| *id == logical_id && *t == "AWS::Serverless::Function")
            .map(|(_, _, props)| props)
            .with_context(|| format!("template.yaml declares no function {logical_id}"))?;
        let mut env = BTreeMap::new();
        for source in [globals, Some(own)].into_iter().flatten() {
            let vars = source
                .get("Environment")
                .and_then(|e| e.get("Variables"))
                .and_then(Value::as_mapping);
            for (k, v) in vars.into_iter().flatten() {
                let Some(name) = k.as_str() else { continue };
                env.insert(
                    name.to_owned(),
                    resolve_value(v, physical)
                        .with_context(|| format!("{logical_id} variable {name}"))?,
                );
            }
        }
        Ok(env)
    }
}

/// The logical id of `!GetAtt Id.Arn`.
fn get_att_target(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) if t.tag == "!GetAtt" => {
            t.value.as_str()?.strip_suffix(".Arn").map(str::to_owned)
        }
        _ => None,
    }
}

fn scalar(v: &Value) -> anyhow::Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => bail!("expected a scalar, got {other:?}"),
    }
}

fn resolve_value(v: &Value, physical: &Physical) -> anyhow::Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Tagged(tagged) => {
            let arg = tagged
                .value
                .as_str()
                .context("only scalar !Ref and !GetAtt are supported locally")?;
            match tagged.tag.to_string().as_str() {
                "!Ref" => Ok(physical.get_ref(arg)?.to_owned()),
                "!GetAtt" => physical
                    .attributes
                    .get(arg)
                    .cloned()
                    .with_context(|| format!("no local value for !GetAtt {arg}")),
                other => bail!("{other} is not supported in function environments locally"),
            }
        }
        other => bail!("unsupported environment value {other:?}"),
    }
}

/// The workspace root: `HERALD_ROOT`, or two levels above this crate.
pub fn workspace_root() -> std::path::PathBuf {
    std::env::var("HERALD_ROOT")
        .map(Into::into)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_real_template() {
        let t = Template::load(&workspace_root().join("template.yaml")).unwrap();
        let tables = t.tables().unwrap();
        assert_eq!(tables.len(), 1);
        assert_eq!(
            tables[0].key_schema[0],
            ("PK".to_owned(), "HASH".to_owned())
        );
        assert_eq!(tables[0].gsis[0].name, "GSI1");
        assert_eq!(tables[0].ttl_attribute.as_deref(), Some("ttl"));
        assert_eq!(t.logical_ids_of("AWS::KMS::Key"), ["Key"]);
        let mut physical = Physical::default();
        physical.refs.insert("Table".into(), "t1".into());
        physical
            .refs
            .insert("AwsTrustStore".into(), "amazon".into());
        physical.attributes.insert("Key.Arn".into(), "arn:k".into());
        physical
            .refs
            .insert("WizardQueue".into(), "http://q".into());
        physical
            .refs
            .insert("SenderQueue".into(), "http://s".into());
        physical
            .attributes
            .insert("SenderQueue.Arn".into(), "arn:s".into());
        physical
            .attributes
            .insert("SchedulerRole.Arn".into(), "arn:r".into());
        physical
            .refs
            .insert("WizardDeadLetterQueue".into(), "http://wd".into());
        physical
            .refs
            .insert("SenderDeadLetterQueue".into(), "http://sd".into());
        physical
            .refs
            .insert("TrackerQueue".into(), "http://t".into());
        physical
            .refs
            .insert("TrackerDeadLetterQueue".into(), "http://td".into());
        for (queue, url) in [
            ("CrmSyncQueue", "http://c"),
            ("CrmSyncDeadLetterQueue", "http://cd"),
            ("WebhookQueue", "http://w"),
            ("WebhookDeadLetterQueue", "http://wd2"),
            ("TransactionalQueue", "http://x"),
            ("TransactionalDeadLetterQueue", "http://xd"),
            ("InboundQueue", "http://i"),
            ("InboundMailBucket", "inbound-mail"),
        ] {
            physical.refs.insert(queue.into(), url.into());
        }
        let env = t.function_environment("ApiFunction", &physical).unwrap();
        assert_eq!(env["HERALD_WEBHOOK_QUEUE_URL"], "http://w");
        assert_eq!(env["HERALD_TABLE"], "t1");
        assert_eq!(env["HERALD_KMS_KEY_ID"], "arn:k");
        assert_eq!(env["HERALD_WIZARD_QUEUE_URL"], "http://q");
        assert_eq!(env["HERALD_SENDER_QUEUE_URL"], "http://s");
        assert_eq!(env["HERALD_SENDER_DLQ_URL"], "http://sd");
        assert_eq!(env["HERALD_TRANSACTIONAL_QUEUE_URL"], "http://x");
        assert_eq!(env["HERALD_TRANSACTIONAL_DLQ_URL"], "http://xd");
        assert_eq!(env["HERALD_TRACKER_DLQ_URL"], "http://td");
        assert!(t.ses_event_topic().is_some(), "SES events reach a topic");
        assert_eq!(env["HERALD_INBOUND_QUEUE_URL"], "http://i");
        // SES events to the tracker; inbound mail and SMS to the inbound function.
        assert_eq!(t.subscriptions().unwrap().len(), 3);
    }

    #[test]
    fn every_queue_with_a_function_has_a_dead_letter_queue_and_partial_batches() {
        let t = Template::load(&workspace_root().join("template.yaml")).unwrap();
        let queues = t.queues().unwrap();
        let sources = t.sqs_sources().unwrap();
        assert!(!sources.is_empty());
        for source in &sources {
            let queue = queues
                .iter()
                .find(|q| q.logical_id == source.queue)
                .unwrap();
            let (dlq, max) = queue.redrive.as_ref().expect("a dead-letter queue");
            assert!(queues.iter().any(|q| &q.logical_id == dlq));
            assert!(source.report_batch_item_failures, "{}", source.function);
            if source.function == "WizardFunction" {
                let env = t
                    .function_environment(
                        "WizardFunction",
                        &Physical {
                            refs: [
                                ("Table".to_owned(), "t".to_owned()),
                                ("AwsTrustStore".to_owned(), "amazon".to_owned()),
                                ("SenderQueue".to_owned(), "q".to_owned()),
                            ]
                            .into(),
                            attributes: [
                                ("Key.Arn".to_owned(), "k".to_owned()),
                                ("SenderQueue.Arn".to_owned(), "qa".to_owned()),
                                ("SchedulerRole.Arn".to_owned(), "r".to_owned()),
                            ]
                            .into(),
                        },
                    )
                    .unwrap();
                assert_eq!(env["HERALD_WIZARD_MAX_RECEIVES"], max.to_string());
            }
        }
        assert!(queues[0].redrive.is_none(), "dead-letter queues come first");
        // Transactional messages have a lane of their own: their queue feeds the sender.
        assert!(
            sources
                .iter()
                .any(|s| s.queue == "TransactionalQueue" && s.function == "SenderFunction"),
            "the transactional queue is an event source of the sender"
        );
    }
}

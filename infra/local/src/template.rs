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
        physical.attributes.insert("Key.Arn".into(), "arn:k".into());
        let env = t.function_environment("ApiFunction", &physical).unwrap();
        assert_eq!(env["HERALD_TABLE"], "t1");
        assert_eq!(env["HERALD_KMS_KEY_ID"], "arn:k");
    }
}

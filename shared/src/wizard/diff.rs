//! What changed between the active snapshot and resolving the layers now.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::SnapshotContent;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// One difference, with a short description of each side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Change {
    /// e.g. `templates/invitation/email`, `providers/sms`, `brand/primary_color`, `event`.
    pub path: String,
    pub kind: ChangeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
}

/// Every item of the content as (path, summary); two contents differ where summaries differ.
fn summaries(c: &SnapshotContent) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let f = &c.event.fields;
    out.insert(
        "event".to_owned(),
        json!({"name": f.name, "starts_at": f.starts_at, "ends_at": f.ends_at,
               "time_zone": f.time_zone, "default_locale": f.default_locale,
               "version": c.event.version}),
    );
    out.insert("tenant/name".to_owned(), json!(c.tenant_name));
    out.insert("uses".to_owned(), json!(c.uses));
    if let Some(sender) = &c.email_sender {
        out.insert("email_sender".to_owned(), json!(sender));
    }
    for t in &c.config.templates {
        out.insert(
            format!("templates/{}/{}", t.category, t.channel),
            json!({"source": t.source, "template_id": t.template.id, "version": t.template.version}),
        );
    }
    for p in &c.config.providers {
        let providers: Vec<Value> = p
            .providers
            .iter()
            .map(|p| json!({"id": p.id, "kind": p.kind, "priority": p.priority, "version": p.version}))
            .collect();
        out.insert(
            format!("providers/{}", p.channel),
            json!({"source": p.source, "providers": providers}),
        );
    }
    for (name, field) in &c.config.brand {
        out.insert(
            format!("brand/{name}"),
            json!({"source": field.source, "value": field.value}),
        );
    }
    for b in &c.config.compliance {
        out.insert(
            format!("compliance/{}", b.name.as_str()),
            json!({"version": b.version}),
        );
    }
    out
}

/// The changes from `before` (the active snapshot) to `after` (resolving now), in path order.
pub fn diff(before: &SnapshotContent, after: &SnapshotContent) -> Vec<Change> {
    let (a, b) = (summaries(before), summaries(after));
    let mut paths: Vec<&String> = a.keys().chain(b.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|path| {
            let (old, new) = (a.get(path), b.get(path));
            let kind = match (old, new) {
                (Some(o), Some(n)) if o == n => return None,
                (Some(_), Some(_)) => ChangeKind::Changed,
                (None, Some(_)) => ChangeKind::Added,
                (Some(_), None) => ChangeKind::Removed,
                (None, None) => return None,
            };
            Some(Change {
                path: path.clone(),
                kind,
                before: old.cloned(),
                after: new.cloned(),
            })
        })
        .collect()
}

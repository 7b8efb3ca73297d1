//! Templates at the platform, tenant and event layers, one per (category, channel) per layer.

use anyhow::Context as _;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{Keys, Store, StoreError, StoreResult, keys};
use crate::config::{Owner, Template};
use crate::ids::TemplateId;

fn template_keys(owner: Owner, t: &Template) -> Keys {
    Keys::new(
        keys::owner_pk(owner),
        keys::template_sk(t.category, t.channel),
    )
}

impl Store {
    /// Stores a new template; `AlreadyExists` when the layer already has one for the slot.
    pub async fn create_template(&self, owner: Owner, template: &Template) -> StoreResult<()> {
        self.put_new(&template_keys(owner, template), template)
            .await
    }

    /// The layer's templates, in category then channel order.
    pub async fn list_templates(&self, owner: Owner) -> StoreResult<Vec<Template>> {
        self.query_prefix(&keys::owner_pk(owner), keys::TEMPLATE_PREFIX)
            .await
    }

    /// A template of the layer by id: one strongly consistent Query of the layer's (at most 30)
    /// template slots, filtered on the id.
    pub async fn get_template(
        &self,
        owner: Owner,
        id: TemplateId,
    ) -> StoreResult<Option<Template>> {
        let items = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .filter_expression("id = :id")
            .expression_attribute_values(":pk", AttributeValue::S(keys::owner_pk(owner)))
            .expression_attribute_values(
                ":prefix",
                AttributeValue::S(keys::TEMPLATE_PREFIX.to_owned()),
            )
            .expression_attribute_values(":id", AttributeValue::S(id.to_string()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .context("Query template by id")?;
        items.into_iter().next().map(Store::from_item).transpose()
    }

    /// Replaces a template's content if its stored version is `expected`.
    pub async fn replace_template(
        &self,
        owner: Owner,
        template: &Template,
        expected: u64,
    ) -> StoreResult<()> {
        self.put_versioned(&template_keys(owner, template), template, expected)
            .await
    }

    pub async fn delete_template(&self, owner: Owner, id: TemplateId) -> StoreResult<Template> {
        let template = self
            .get_template(owner, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.delete_with_id(&template_keys(owner, &template), &id.to_string())
            .await?;
        Ok(template)
    }
}

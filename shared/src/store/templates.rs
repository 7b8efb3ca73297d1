//! Templates at the platform, tenant and event layers, one per (category, channel) per layer.

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use super::batch::Transaction;
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
    /// Stores a new template and its version 1; `AlreadyExists` when the layer already has one
    /// for the slot.
    pub async fn create_template(&self, owner: Owner, template: &Template) -> StoreResult<()> {
        self.save_template(owner, template, 0).await
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

    /// Replaces a template if its stored version is `expected`, keeping the new content as an
    /// immutable version too.
    pub async fn replace_template(
        &self,
        owner: Owner,
        template: &Template,
        expected: u64,
    ) -> StoreResult<()> {
        self.save_template(owner, template, expected).await
    }

    /// One transaction: the current item (conditional on `expected`, 0 for "must not exist")
    /// and the version item `template.version` (which must not exist).
    async fn save_template(
        &self,
        owner: Owner,
        template: &Template,
        expected: u64,
    ) -> StoreResult<()> {
        let current = Store::to_item(&template_keys(owner, template), template)?;
        let version = Store::to_item(
            &Keys::new(
                keys::owner_pk(owner),
                keys::template_version_sk(template.id, template.version),
            ),
            template,
        )?;
        let mut put_current = Put::builder()
            .table_name(self.table())
            .set_item(Some(current));
        put_current = if expected == 0 {
            put_current.condition_expression("attribute_not_exists(PK)")
        } else {
            put_current
                .condition_expression("attribute_exists(PK) AND version = :expected AND id = :id")
                .expression_attribute_values(":expected", AttributeValue::N(expected.to_string()))
                .expression_attribute_values(":id", AttributeValue::S(template.id.to_string()))
        };
        let put_version = Put::builder()
            .table_name(self.table())
            .set_item(Some(version))
            .condition_expression("attribute_not_exists(PK)");
        let transaction = Transaction::new()
            .with(
                TransactWriteItem::builder()
                    .put(put_current.build().context("put")?)
                    .build(),
            )?
            .with(
                TransactWriteItem::builder()
                    .put(put_version.build().context("put")?)
                    .build(),
            )?;
        if self.transact(transaction, "template").await? {
            return Ok(());
        }
        // A condition failed: tell a missing item, an existing slot and a stale version apart.
        match (expected, self.get_template(owner, template.id).await?) {
            (0, _) => Err(StoreError::AlreadyExists),
            (_, None) => Err(StoreError::NotFound),
            (_, Some(stored)) => Err(StoreError::StaleVersion {
                expected,
                current: stored.version,
            }),
        }
    }

    /// A template's versions, oldest first.
    pub async fn list_template_versions(
        &self,
        owner: Owner,
        id: TemplateId,
    ) -> StoreResult<Vec<Template>> {
        self.query_prefix(&keys::owner_pk(owner), &keys::template_versions_prefix(id))
            .await
    }

    pub async fn get_template_version(
        &self,
        owner: Owner,
        id: TemplateId,
        version: u64,
    ) -> StoreResult<Option<Template>> {
        self.get(
            &keys::owner_pk(owner),
            &keys::template_version_sk(id, version),
        )
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

//! The platform's compliance blocks.

use super::{Keys, Store, StoreResult, keys};
use crate::config::{ComplianceBlock, ComplianceBlockName};

impl Store {
    pub async fn list_compliance_blocks(&self) -> StoreResult<Vec<ComplianceBlock>> {
        self.query_prefix(keys::PLATFORM, keys::COMPLIANCE_PREFIX)
            .await
    }

    pub async fn get_compliance_block(
        &self,
        name: ComplianceBlockName,
    ) -> StoreResult<Option<ComplianceBlock>> {
        self.get(keys::PLATFORM, &keys::compliance_sk(name)).await
    }

    /// Writes a block if its stored version is `expected` (0: it must not exist yet).
    pub async fn put_compliance_block(
        &self,
        block: &ComplianceBlock,
        expected: u64,
    ) -> StoreResult<()> {
        self.put_versioned(
            &Keys::new(keys::PLATFORM, keys::compliance_sk(block.name)),
            block,
            expected,
        )
        .await
    }
}

//! SHA-256 in hex, for keys that must not hold a value in clear (API key secrets, addresses on
//! the suppression list, idempotency keys) and for content hashes.

use sha2::{Digest as _, Sha256};

pub fn sha256_hex(data: impl AsRef<[u8]>) -> String {
    hex::encode(Sha256::digest(data.as_ref()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_answer() {
        assert_eq!(
            super::sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

//! Clients as the extension registers them.

use crate::domain::client::ClientInput;

/// A 130-digit hexadecimal public key (an uncompressed point's length), distinct for each `i`.
pub fn public_key(i: usize) -> String {
    format!("04{:0128x}", i as u128 * 0x9e37_79b9_7f4a_7c15 + 1)
}

/// The registration of a Firefox client with the `i`-th public key.
pub fn client_input(i: usize) -> ClientInput {
    ClientInput {
        public_key: Some(public_key(i)),
        browser: Some("firefox".into()),
        external_name: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_distinct_and_of_one_length() {
        let keys: std::collections::BTreeSet<String> = (0..1000).map(public_key).collect();
        assert_eq!(keys.len(), 1000);
        assert!(keys.iter().all(|k| k.len() == 130 && k.starts_with("04")));
    }
}

//! Password hashing: scrypt, stored as PHC strings
//! (`$scrypt$ln=..,r=..,p=..$salt$hash`).

use cairn_types::{CairnError, Result};
use scrypt::password_hash::{PasswordHasher, PasswordVerifier};
use scrypt::phc::PasswordHash;
use scrypt::{Params, Scrypt};

/// scrypt cost parameters. The default (N = 2^14, r = 8, p = 1: 16 MiB,
/// tens of milliseconds) suits interactive logins; raise `log_n` for more
/// resistance to offline guessing at the price of slower logins.
#[derive(Debug, Clone, Copy)]
pub struct HashCost {
    pub log_n: u8,
}

impl Default for HashCost {
    fn default() -> Self {
        HashCost { log_n: 14 }
    }
}

pub fn hash_password(password: &str, cost: HashCost) -> Result<String> {
    let params = Params::new(cost.log_n, 8, 1)
        .map_err(|e| CairnError::InvalidParameterValue(format!("scrypt parameters: {e}")))?;
    let salt: [u8; 16] = rand::random();
    let hash = Scrypt::from(params)
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|e| CairnError::Internal(format!("hashing failed: {e}")))?;
    Ok(hash.to_string())
}

/// True if `password` matches the PHC string. A malformed stored hash is
/// an error, not a silent mismatch.
pub fn verify_password(password: &str, phc: &str) -> Result<bool> {
    let hash = PasswordHash::new(phc)
        .map_err(|e| CairnError::Storage(format!("stored password hash is malformed: {e}")))?;
    Ok(Scrypt::default().verify_password(password.as_bytes(), &hash).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_phc_strings_that_verify() {
        let cost = HashCost { log_n: 4 };
        let phc = hash_password("s3cret", cost).expect("hash");
        assert!(phc.starts_with("$scrypt$ln=4,r=8,p=1$"), "{phc}");
        assert!(verify_password("s3cret", &phc).expect("verify"));
        assert!(!verify_password("s3cret ", &phc).expect("verify"));
        // Same password, new salt, different string.
        assert_ne!(phc, hash_password("s3cret", cost).expect("hash"));
    }

    #[test]
    fn a_malformed_hash_is_an_error() {
        assert!(verify_password("x", "not-a-phc-string").is_err());
    }
}

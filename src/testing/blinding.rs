//! Blinded counts as a group's extensions send them, without their key exchange: factors drawn
//! at random that cancel over the group.

use num_bigint::{BigInt, Sign};
use rand::rngs::StdRng;
use rand::Rng;

use crate::domain::crypto::ell;

/// For a group of `n` members and vectors of `width` elements: per member, random blinding
/// factors (signed, about 77 digits) whose sum over the members is 0 modulo ℓ element-wise.
pub fn cancelling_blinds(n: usize, width: usize, rng: &mut StdRng) -> Vec<Vec<BigInt>> {
    let l = BigInt::from(ell().clone());
    let mut members = vec![Vec::with_capacity(width); n];
    for _ in 0..width {
        let mut total = BigInt::from(0);
        for member in members.iter_mut().take(n - 1) {
            let bytes: [u8; 32] = rng.gen();
            let magnitude = BigInt::from_bytes_le(Sign::Plus, &bytes) % &l;
            let v = if rng.gen_bool(0.5) {
                -magnitude
            } else {
                magnitude
            };
            total += &v;
            member.push(v);
        }
        // The last factor cancels the others; it may be shifted by a multiple of ℓ, as the
        // extension's factors are only defined modulo ℓ.
        let mut last = -(total % &l);
        if rng.gen_bool(0.5) {
            if last.sign() == Sign::Minus {
                last += &l;
            } else {
                last -= &l;
            }
        }
        members[n - 1].push(last);
    }
    members
}

/// Counts blinded by a member's factors, as the decimal strings the extension sends.
pub fn blinded(counts: &[i64], blinds: &[BigInt]) -> Vec<String> {
    counts
        .iter()
        .zip(blinds)
        .map(|(c, b)| (BigInt::from(*c) + b).to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn the_blinds_of_a_group_cancel_modulo_ell() {
        let l = BigInt::from(ell().clone());
        let blinds = cancelling_blinds(5, 3, &mut StdRng::seed_from_u64(1));
        for k in 0..3 {
            let sum: BigInt = blinds.iter().map(|m| &m[k]).sum();
            assert_eq!(sum % &l, BigInt::from(0));
        }
        assert_eq!(
            blinded(&[2, 3], &[BigInt::from(-5), BigInt::from(1)]),
            ["-3", "4"]
        );
    }
}

//! Arithmetic of blinded counts: values live modulo ℓ, the order of the ed25519 group the
//! clients blind with. A complete group's blinding factors cancel, leaving the true sum.

use std::sync::OnceLock;

use num_bigint::{BigInt, BigUint, Sign};
use num_traits::{ToPrimitive, Zero};

/// Longest accepted decimal (digits, sign excluded).
pub const MAX_DIGITS: usize = 100;

/// ℓ = 2^252 + 27742317777372353535851937790883648493.
pub fn ell() -> &'static BigUint {
    static ELL: OnceLock<BigUint> = OnceLock::new();
    ELL.get_or_init(|| {
        (BigUint::from(1u8) << 252u32)
            + "27742317777372353535851937790883648493"
                .parse::<BigUint>()
                .expect("constant")
    })
}

fn half_ell() -> &'static BigUint {
    static HALF: OnceLock<BigUint> = OnceLock::new();
    HALF.get_or_init(|| ell() >> 1u32)
}

/// Parses a signed decimal integer: optional `-`, then 1 to 100 ASCII digits, nothing else.
pub fn parse_decimal(s: &str) -> Option<BigInt> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    if digits.is_empty() || digits.len() > MAX_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let magnitude = BigUint::parse_bytes(digits.as_bytes(), 10)?;
    Some(BigInt::from_biguint(
        if negative { Sign::Minus } else { Sign::Plus },
        magnitude,
    ))
}

/// The residue of `x` modulo ℓ, in [0, ℓ).
pub fn reduce(x: &BigInt) -> BigUint {
    let l = ell();
    let magnitude = x.magnitude();
    // Submitted values are mostly below ℓ in magnitude: no division then.
    let r = if magnitude < l {
        magnitude.clone()
    } else {
        magnitude % l
    };
    if x.sign() == Sign::Minus && !r.is_zero() {
        l - r
    } else {
        r
    }
}

/// Adds `values` element-wise into `sum`, modulo ℓ. An empty `sum` is taken as zeros.
pub fn fold(sum: &mut Vec<BigUint>, values: &[BigUint]) {
    if sum.is_empty() {
        sum.resize(values.len(), BigUint::zero());
    }
    for (s, v) in sum.iter_mut().zip(values) {
        *s += v;
        if *s >= *ell() {
            *s -= ell();
        }
    }
}

/// Decrypts one residue: maps it into (−ℓ/2, ℓ/2]; `None` when the result is negative or does
/// not fit a signed 64-bit integer (a member sent garbage).
pub fn decrypt_value(residue: &BigUint) -> Option<i64> {
    if residue > half_ell() {
        // (−ℓ/2, 0): a negative count.
        return None;
    }
    residue.to_i64()
}

/// Decrypts a group's running sum, or `None` when any element is garbage.
pub fn decrypt(sum: &[BigUint]) -> Option<Vec<i64>> {
    sum.iter().map(decrypt_value).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn ell_has_the_ed25519_order() {
        assert_eq!(
            ell().to_string(),
            "7237005577332262213973186563042994240857116359379907606001950938285454250989"
        );
    }

    #[test]
    fn parse_decimal_accepts_signed_digits_up_to_100() {
        assert_eq!(parse_decimal("42"), Some(BigInt::from(42)));
        assert_eq!(parse_decimal("-42"), Some(BigInt::from(-42)));
        assert_eq!(parse_decimal("007"), Some(BigInt::from(7)));
        assert!(parse_decimal(&"9".repeat(100)).is_some());
        assert!(parse_decimal(&format!("-{}", "9".repeat(100))).is_some());
        for bad in ["", "-", "+1", "1.0", "1e3", " 1", "0x10", "--1", "١"] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
        assert_eq!(parse_decimal(&"9".repeat(101)), None);
    }

    #[test]
    fn reduce_maps_negatives_into_range() {
        let l = BigInt::from(ell().clone());
        assert_eq!(reduce(&BigInt::from(-1)), ell() - 1u8);
        assert_eq!(reduce(&l), BigUint::zero());
        assert_eq!(reduce(&-&l), BigUint::zero());
        assert_eq!(reduce(&BigInt::from(5)), BigUint::from(5u8));
        assert_eq!(reduce(&(&l * 3u8 + 7u8)), BigUint::from(7u8));
        assert_eq!(reduce(&(-(&l * 3u8) - 7u8)), ell() - 7u8);
        assert_eq!(reduce(&(-(&l * 2u8))), BigUint::zero());
        let big = parse_decimal(&"9".repeat(100)).unwrap();
        assert_eq!(
            BigInt::from(reduce(&big)),
            ((&big % &l) + &l) % &l,
            "agrees with the arithmetic definition"
        );
        let neg = -big;
        assert_eq!(BigInt::from(reduce(&neg)), ((&neg % &l) + &l) % &l);
    }

    #[test]
    fn decrypt_rejects_negative_and_too_large() {
        assert_eq!(decrypt_value(&BigUint::from(6u8)), Some(6));
        assert_eq!(decrypt_value(&(ell() - 1u8)), None); // −1
        assert_eq!(
            decrypt_value(&BigUint::from(i64::MAX as u64)),
            Some(i64::MAX)
        );
        assert_eq!(decrypt_value(&(BigUint::from(i64::MAX as u64) + 1u8)), None);
        assert_eq!(decrypt_value(half_ell()), None); // fits nowhere, but positive
        assert_eq!(decrypt_value(&(half_ell() + 1u8)), None);
    }

    /// Blinding factors that sum to 0 mod ℓ, as signed decimals of about 77 digits.
    pub fn cancelling_blinds(n: usize, rng: &mut impl Rng) -> Vec<BigInt> {
        let l = BigInt::from(ell().clone());
        let mut blinds: Vec<BigInt> = (0..n - 1)
            .map(|_| {
                let bytes: [u8; 32] = rng.gen();
                let v = BigInt::from_bytes_le(Sign::Plus, &bytes) % &l;
                if rng.gen_bool(0.5) {
                    -v
                } else {
                    v
                }
            })
            .collect();
        let total: BigInt = blinds.iter().sum();
        blinds.push(-(total % &l));
        blinds
    }

    #[test]
    fn cancelling_blinds_decrypt_to_true_totals() {
        let mut rng = rand::thread_rng();
        let counts: Vec<Vec<i64>> = vec![vec![3, 1, 0], vec![2, 0, 5], vec![1, 0, 0]];
        let width = 3;
        let blinds: Vec<Vec<BigInt>> = (0..width)
            .map(|_| cancelling_blinds(counts.len(), &mut rng))
            .collect();
        let mut sum = Vec::new();
        for (member, member_counts) in counts.iter().enumerate() {
            let submitted: Vec<BigUint> = (0..width)
                .map(|i| {
                    let v = BigInt::from(member_counts[i]) + &blinds[i][member];
                    let text = v.to_string();
                    assert!(text.trim_start_matches('-').len() >= 70, "{text}");
                    reduce(&parse_decimal(&text).unwrap())
                })
                .collect();
            fold(&mut sum, &submitted);
        }
        assert_eq!(decrypt(&sum), Some(vec![6, 1, 5]));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// `-?[0-9]{1,100}`, checked by hand.
        fn well_formed(s: &str) -> bool {
            let digits = s.strip_prefix('-').unwrap_or(s);
            (1..=MAX_DIGITS).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
        }

        /// The value of a digit string, computed digit by digit.
        fn value_of(s: &str) -> BigInt {
            let (negative, digits) = match s.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, s),
            };
            let magnitude = digits
                .bytes()
                .fold(BigInt::zero(), |acc, b| acc * 10u8 + (b - b'0'));
            if negative {
                -magnitude
            } else {
                magnitude
            }
        }

        fn config() -> ProptestConfig {
            ProptestConfig {
                cases: 256,
                failure_persistence: None,
                ..ProptestConfig::default()
            }
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn every_signed_decimal_of_1_to_100_digits_parses_to_its_value(s in "-?[0-9]{1,100}") {
                prop_assert_eq!(parse_decimal(&s), Some(value_of(&s)));
            }

            #[test]
            fn a_string_parses_exactly_when_it_is_a_signed_decimal_of_1_to_100_digits(
                s in prop_oneof![
                    "[-+0-9 .eE_x]{0,105}",
                    "-?[0-9]{95,105}",
                    "\\PC{0,110}",
                ]
            ) {
                let parsed = parse_decimal(&s);
                prop_assert_eq!(parsed.is_some(), well_formed(&s), "{:?}", s);
                if let Some(v) = parsed {
                    prop_assert_eq!(v, value_of(&s));
                }
            }

            #[test]
            fn reduce_lands_in_range_and_agrees_with_the_arithmetic_definition(s in "-?[0-9]{1,100}") {
                let x = parse_decimal(&s).unwrap();
                let l = BigInt::from(ell().clone());
                let r = reduce(&x);
                prop_assert!(&r < ell());
                prop_assert_eq!(BigInt::from(r), ((&x % &l) + &l) % &l);
            }
        }
    }
}

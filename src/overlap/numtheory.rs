//! Exact integer helpers for the solver, on `i128` so that any `i64`
//! geometry fits; every operation is checked and reports failure as `None`.

/// Greatest common divisor of `|a|` and `|b|`; `gcd(0, 0) = 0`.
pub(super) fn gcd(a: i128, b: i128) -> i128 {
    if let (Ok(a), Ok(b)) = (
        u64::try_from(a.unsigned_abs()),
        u64::try_from(b.unsigned_abs()),
    ) {
        let (mut a, mut b) = (a, b);
        while b != 0 {
            (a, b) = (b, a % b);
        }
        return i128::from(a);
    }
    let (mut a, mut b) = (a.unsigned_abs(), b.unsigned_abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    // Only gcd(i128::MIN, 0) does not fit; the solver never builds it.
    i128::try_from(a).unwrap_or(i128::MAX)
}

/// `(⌊a / b⌋, a mod b)` for `b > 0`. Values that fit `i64` (nearly all) take
/// the hardware division; `i128` division is a slow library call.
pub(super) fn div_rem_euclid(a: i128, b: i128) -> Option<(i128, i128)> {
    if b <= 0 {
        return None;
    }
    if let (Ok(a), Ok(b)) = (i64::try_from(a), i64::try_from(b)) {
        return Some((
            i128::from(a.checked_div_euclid(b)?),
            i128::from(a.checked_rem_euclid(b)?),
        ));
    }
    Some((a.checked_div_euclid(b)?, a.checked_rem_euclid(b)?))
}

/// `⌊a / b⌋` for `b > 0`.
pub(super) fn floor_div(a: i128, b: i128) -> Option<i128> {
    div_rem_euclid(a, b).map(|(q, _)| q)
}

/// `⌈a / b⌉` for `b > 0`.
pub(super) fn ceil_div(a: i128, b: i128) -> Option<i128> {
    let (q, r) = div_rem_euclid(a, b)?;
    if r == 0 {
        Some(q)
    } else {
        q.checked_add(1)
    }
}

/// `a mod b ∈ [0, b)` for `b > 0`.
pub(super) fn rem_euclid(a: i128, b: i128) -> Option<i128> {
    div_rem_euclid(a, b).map(|(_, r)| r)
}

/// The inverse of `a` modulo `m ≥ 1`, if `gcd(a, m) = 1` (0 when `m = 1`).
pub(super) fn inv_mod(a: i128, m: i128) -> Option<i128> {
    if m < 1 {
        return None;
    }
    // Extended Euclid on (a mod m, m); the Bézout coefficient stays below m
    // in magnitude, so the checked operations never actually fail.
    let (mut r0, mut r1) = (rem_euclid(a, m)?, m);
    let (mut s0, mut s1) = (1i128, 0i128);
    while r1 != 0 {
        let q = r0.checked_div(r1)?;
        (r0, r1) = (r1, r0.checked_rem(r1)?);
        (s0, s1) = (s1, s0.checked_sub(q.checked_mul(s1)?)?);
    }
    if r0 != 1 {
        return None;
    }
    rem_euclid(s0, m)
}

/// `a·b mod m` for `m ≥ 1`, without overflow for any operands.
pub(super) fn mul_mod(a: i128, b: i128, m: i128) -> Option<i128> {
    let a = rem_euclid(a, m)?;
    let b = rem_euclid(b, m)?;
    if let Some(p) = a.checked_mul(b) {
        return rem_euclid(p, m);
    }
    // Double-and-add in u128: operands stay below m < 2^127, so a sum of two
    // of them stays below 2^128.
    let m = u128::try_from(m).ok()?;
    let (mut a, mut b) = (u128::try_from(a).ok()?, u128::try_from(b).ok()?);
    let add = |x: u128, y: u128| -> u128 {
        let s = x + y;
        if s >= m {
            s - m
        } else {
            s
        }
    };
    let mut acc = 0u128;
    while b > 0 {
        if b & 1 == 1 {
            acc = add(acc, a);
        }
        a = add(a, a);
        b >>= 1;
    }
    i128::try_from(acc).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(gcd(12, 18), 6);
        assert_eq!(gcd(0, 5), 5);
        assert_eq!(gcd(0, 0), 0);
        assert_eq!(floor_div(-7, 2), Some(-4));
        assert_eq!(ceil_div(-7, 2), Some(-3));
        assert_eq!(ceil_div(7, 2), Some(4));
        assert_eq!(ceil_div(8, 2), Some(4));
        assert_eq!(floor_div(1, 0), None);
        assert_eq!(inv_mod(3, 7), Some(5));
        assert_eq!(inv_mod(2, 4), None);
        assert_eq!(inv_mod(5, 1), Some(0));
        assert_eq!(mul_mod(1 << 100, 1 << 100, (1 << 110) + 7), {
            // (2^100)^2 mod p computed by repeated doubling as a cross-check.
            let p: i128 = (1 << 110) + 7;
            let mut x: i128 = 1 << 100;
            for _ in 0..100 {
                x = (x * 2) % p;
            }
            Some(x)
        });
    }
}

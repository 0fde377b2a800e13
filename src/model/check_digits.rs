//! The check-digit algorithms of the Luxembourg matricule: Luhn and Verhoeff
//! (13-digit form) and the weighted mod-11 of the legacy 11-digit form.
//!
//! Each function takes the payload as decimal digit values (0–9), most
//! significant first, and returns the check digit to append.

/// Luhn (mod 10) check digit: double every second digit starting from the
/// rightmost payload digit, since the check digit will sit to its right.
pub(crate) fn luhn(payload: &[u8]) -> u8 {
    let sum: u32 = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &digit)| {
            let digit = u32::from(digit);
            if i % 2 == 0 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    // `sum % 10` is below 10, so the result is a single digit.
    ((10 - sum % 10) % 10) as u8
}

/// Multiplication table of the dihedral group D5.
const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];

/// Position-dependent permutation table.
const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 8, 7, 6, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 2, 6, 3, 1, 5, 8, 9],
];

/// Inverses in D5.
const VERHOEFF_INV: [u8; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];

/// Verhoeff check digit: detects every single-digit error and every
/// transposition of adjacent digits, which Luhn alone does not (09 ↔ 90).
pub(crate) fn verhoeff(payload: &[u8]) -> u8 {
    let mut c = 0u8;
    for (i, &digit) in payload.iter().rev().enumerate() {
        // Position i + 1: the check digit itself would take position 0.
        let permuted = VERHOEFF_P[(i + 1) % 8][usize::from(digit)];
        c = VERHOEFF_D[usize::from(c)][usize::from(permuted)];
    }
    VERHOEFF_INV[usize::from(c)]
}

/// Weights of the legacy matricule's mod-11 check (règlement grand-ducal du
/// 21 décembre 1987, art. 1er).
const MOD11_WEIGHTS: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

/// The legacy mod-11 check digit over exactly ten payload digits:
/// `11 − (Σ wᵢ·dᵢ mod 11)`, where a remainder of 0 gives 0. A remainder of 1
/// would give 10, which is not a digit: such numbers are never issued, so
/// `None` is returned for them.
pub(crate) fn mod11(payload: &[u8; 10]) -> Option<u8> {
    let sum: u32 = payload
        .iter()
        .zip(MOD11_WEIGHTS)
        .map(|(&digit, weight)| u32::from(digit) * weight)
        .sum();
    match sum % 11 {
        0 => Some(0),
        1 => None,
        // 2..=10 gives 9..=1: a single digit.
        remainder => Some((11 - remainder) as u8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(s: &str) -> Vec<u8> {
        s.bytes().map(|b| b - b'0').collect()
    }

    #[test]
    fn luhn_known_answers() {
        // The textbook example: 7992739871 → 3.
        assert_eq!(luhn(&digits("7992739871")), 3);
        assert_eq!(luhn(&digits("18931201057")), 3);
        assert_eq!(luhn(&digits("0")), 0);
    }

    #[test]
    fn verhoeff_known_answers() {
        // Verhoeff's own example 236 → 3, and 12345 → 1.
        assert_eq!(verhoeff(&digits("236")), 3);
        assert_eq!(verhoeff(&digits("12345")), 1);
        assert_eq!(verhoeff(&digits("18931201057")), 2);
    }

    #[test]
    fn mod11_known_answers() {
        // Worked by hand: Σ wᵢ·dᵢ for 1893120105 is 5+32+27+6+7+12+0+4+0+10
        // = 103, remainder 4 → 7.
        assert_eq!(mod11(&[1, 8, 9, 3, 1, 2, 0, 1, 0, 5]), Some(7));
        // 1893120103: 99, remainder 0 → 0.
        assert_eq!(mod11(&[1, 8, 9, 3, 1, 2, 0, 1, 0, 3]), Some(0));
        // 1893120104: 101, remainder 2 → 9.
        assert_eq!(mod11(&[1, 8, 9, 3, 1, 2, 0, 1, 0, 4]), Some(9));
        // 1893120108: 109, remainder 10 → 1.
        assert_eq!(mod11(&[1, 8, 9, 3, 1, 2, 0, 1, 0, 8]), Some(1));
        // 1893120109: 111, remainder 1 → would be 10: never issued.
        assert_eq!(mod11(&[1, 8, 9, 3, 1, 2, 0, 1, 0, 9]), None);
    }
}

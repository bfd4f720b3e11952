//! Valid ranges and conversions of station fields, shared by the API request schemas and
//! the pipeline's validation.
//!
//! The reference validates the same fields twice, in its locate lookup schemas
//! (`api.md` §3.3) and in its internal export (`pipeline.md` §4.3), with the same numbers;
//! keeping the numbers here once means the two can never disagree. For GSM, WCDMA and LTE
//! the values are the reference's. 5G NR is our extension: tracking area codes 1–16 777 213
//! (24 bits; like LTE's 65 533, the top values are reserved), NR cell identities 1–2³⁶−1,
//! physical cell ids 0–1007, timing advance 0–3846, and LTE's ASU and signal scale.
//!
//! The valid mobile country codes are the reference's `mobile_codes` dataset between 1 and
//! 999 minus 553 (Tuvalu, missing from the region shapes): 234 values (`api.md`
//! Appendix A.3). The list is data, so it is copied verbatim and checked by a test.

use crate::enums::Radio;

/// Every valid MCC, ascending.
pub const VALID_MCCS: [u16; 234] = [
    202, 204, 206, 208, 212, 213, 214, 216, 218, 219, 220, 221, 222, 226, 228, 230, 231, 232, 234,
    235, 238, 240, 242, 244, 246, 247, 248, 250, 255, 257, 259, 260, 262, 266, 268, 270, 272, 274,
    276, 278, 280, 282, 283, 284, 286, 288, 289, 290, 292, 293, 294, 295, 297, 302, 308, 310, 311,
    312, 313, 314, 315, 316, 330, 334, 338, 340, 342, 344, 346, 348, 350, 352, 354, 356, 358, 360,
    362, 363, 364, 365, 366, 368, 370, 372, 374, 376, 400, 401, 402, 404, 405, 410, 412, 413, 414,
    415, 416, 417, 418, 419, 420, 421, 422, 424, 425, 426, 427, 428, 429, 430, 431, 432, 434, 436,
    437, 438, 440, 441, 450, 452, 454, 455, 456, 457, 460, 466, 467, 470, 472, 502, 505, 510, 514,
    515, 520, 525, 528, 530, 536, 537, 539, 540, 541, 542, 543, 544, 545, 546, 547, 548, 549, 550,
    551, 552, 554, 555, 602, 603, 604, 605, 606, 607, 608, 609, 610, 611, 612, 613, 614, 615, 616,
    617, 618, 619, 620, 621, 622, 623, 624, 625, 626, 627, 628, 629, 630, 631, 632, 633, 634, 635,
    636, 637, 638, 639, 640, 641, 642, 643, 645, 646, 647, 648, 649, 650, 651, 652, 653, 654, 655,
    657, 658, 659, 702, 704, 706, 708, 710, 712, 714, 716, 722, 724, 730, 732, 734, 736, 738, 740,
    742, 744, 746, 748, 750, 995,
];

/// Whether `mcc` is a valid mobile country code.
pub fn is_valid_mcc(mcc: i64) -> bool {
    u16::try_from(mcc).is_ok_and(|mcc| VALID_MCCS.binary_search(&mcc).is_ok())
}

/// The frequency (MHz) of a WiFi channel.
pub fn channel_frequency(channel: i64) -> Option<i64> {
    match channel {
        1..=13 => Some(2407 + 5 * channel),
        14 => Some(2484),
        15..=185 => Some(5000 + 5 * channel),
        186..=199 => Some(4000 + 5 * channel),
        _ => None,
    }
}

/// The WiFi channel of a frequency (MHz), where one is defined.
pub fn frequency_channel(frequency: i64) -> Option<i64> {
    match frequency {
        2412..=2472 => Some((frequency - 2407) / 5),
        2484 => Some(14),
        4915..=4995 => Some((frequency - 4000) / 5),
        5075..=5925 => Some((frequency - 5000) / 5),
        _ => None,
    }
}

/// The per-radio validation ranges of cell entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellRanges {
    /// Location / tracking area code.
    pub lac: (i64, i64),
    /// Cell id / NR cell identity.
    pub cid: (i64, i64),
    /// Primary scrambling code / physical cell id.
    pub psc: (i64, i64),
    /// Arbitrary strength unit.
    pub asu: (i64, i64),
    /// Signal strength, dBm.
    pub signal: (i64, i64),
    /// Timing advance; `None` if the radio has none (WCDMA).
    pub ta: Option<(i64, i64)>,
}

impl CellRanges {
    /// The ranges for `radio`. For GSM, WCDMA and LTE the generic and the radio-specific
    /// rules of the reference are combined; NR is our extension (module documentation).
    pub const fn for_radio(radio: Radio) -> CellRanges {
        const NARROW_LAC: (i64, i64) = (1, 65_533);
        const NARROW_CID: (i64, i64) = (1, 268_435_455);
        match radio {
            Radio::Gsm => CellRanges {
                lac: NARROW_LAC,
                cid: NARROW_CID,
                psc: (0, 511),
                asu: (0, 31),
                signal: (-113, -51),
                ta: Some((0, 63)),
            },
            Radio::Wcdma => CellRanges {
                lac: NARROW_LAC,
                cid: NARROW_CID,
                psc: (0, 511),
                asu: (-5, 91),
                signal: (-121, -25),
                ta: None,
            },
            Radio::Lte => CellRanges {
                lac: NARROW_LAC,
                cid: NARROW_CID,
                psc: (0, 503),
                asu: (0, 97),
                signal: (-140, -43),
                ta: Some((0, 63)),
            },
            Radio::Nr => CellRanges {
                lac: (1, 16_777_213),
                cid: (1, (1 << 36) - 1),
                psc: (0, 1007),
                asu: (0, 97),
                signal: (-140, -43),
                ta: Some((0, 3846)),
            },
        }
    }
}

/// The signal (dBm) implied by an ASU value: GSM `2·asu − 113`, WCDMA `asu − 116`, LTE and
/// NR `asu − 140`.
pub const fn signal_from_asu(radio: Radio, asu: i64) -> i64 {
    match radio {
        Radio::Gsm => 2 * asu - 113,
        Radio::Wcdma => asu - 116,
        Radio::Lte | Radio::Nr => asu - 140,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_sorted_and_complete() {
        assert!(VALID_MCCS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(VALID_MCCS.first(), Some(&202));
        assert_eq!(VALID_MCCS.last(), Some(&995));
    }

    #[test]
    fn membership() {
        for mcc in [202, 234, 262, 310, 425, 552, 554, 995] {
            assert!(is_valid_mcc(mcc), "{mcc}");
        }
        for mcc in [-2, 0, 1, 101, 553, 999, 99_999] {
            assert!(!is_valid_mcc(mcc), "{mcc}");
        }
    }
}

//! Station identifiers and their binary encodings.
//!
//! The reference stores identifiers as fixed-length big-endian `BINARY` columns
//! (`pipeline.md` §2.5). We keep those encodings byte for byte for GSM, WCDMA and LTE, so a
//! database written by either system reads the same in the other. 5G NR needs wider fields
//! (24-bit tracking area codes, 36-bit NR cell identities), so NR ids use a longer layout;
//! because the first byte is always the radio code, the two layouts can never collide:
//!
//! | id | GSM / WCDMA / LTE (reference) | NR (ichnaea-rs) |
//! |---|---|---|
//! | cell id | 11 bytes: i8 radio, u16 mcc, u16 mnc, u16 lac, u32 cid | 13 bytes: i8 radio, u16 mcc, u16 mnc, u24 tac, u40 nci |
//! | area id | 7 bytes: i8 radio, u16 mcc, u16 mnc, u16 lac | 8 bytes: i8 radio, u16 mcc, u16 mnc, u24 tac |
//!
//! The area id of a cell is always the prefix of its cell id.
//!
//! Privacy: these values are personal data once paired with a position, so their `Debug`
//! output is redacted and none of them implements `Display`. Use the explicit accessors
//! (`Mac::to_hex`, `CellId::to_bytes`) where the raw value is really needed.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::enums::Radio;

/// Why an identifier could not be built or decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    /// The text is not a usable MAC address.
    #[error("not a valid MAC address")]
    InvalidMac,
    /// The byte string has the wrong length for this kind of id.
    #[error("binary id has length {0}, which is not valid here")]
    BadLength(usize),
    /// The first byte is not a known radio code.
    #[error("unknown radio code {0}")]
    UnknownRadio(i8),
    /// A component does not fit the id layout of its radio.
    #[error("{field} {value} is out of range for this radio")]
    OutOfRange {
        /// Name of the component (`lac`, `cid`).
        field: &'static str,
        /// The offending value.
        value: u64,
    },
}

/// A 48-bit MAC address of a WiFi access point or Bluetooth beacon.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac([u8; 6]);

impl Mac {
    /// MACs that are never accepted: all zeros, all ones (broadcast) and the
    /// documentation test address `01:00:5e:90:10:00`.
    const REJECTED: [[u8; 6]; 3] = [
        [0, 0, 0, 0, 0, 0],
        [0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        [0x01, 0x00, 0x5e, 0x90, 0x10, 0x00],
    ];

    /// Parses a MAC the way clients send it: `:`, `-` and `.` separators are removed,
    /// case is ignored, and 12 hex digits must remain. The all-zero, all-one and test
    /// MACs are rejected.
    pub fn parse(text: &str) -> Result<Mac, IdError> {
        let mut digits = [0u8; 12];
        let mut n = 0;
        for b in text.bytes() {
            if matches!(b, b':' | b'-' | b'.') {
                continue;
            }
            if n == 12 || !b.is_ascii_hexdigit() {
                return Err(IdError::InvalidMac);
            }
            digits[n] = b.to_ascii_lowercase();
            n += 1;
        }
        if n != 12 {
            return Err(IdError::InvalidMac);
        }
        let mut bytes = [0u8; 6];
        hex::decode_to_slice(digits, &mut bytes).map_err(|_| IdError::InvalidMac)?;
        Mac::from_array(bytes)
    }

    /// Builds a MAC from its six bytes, applying the same rejection rules as [`Mac::parse`].
    pub fn from_array(bytes: [u8; 6]) -> Result<Mac, IdError> {
        if Self::REJECTED.contains(&bytes) {
            return Err(IdError::InvalidMac);
        }
        Ok(Mac(bytes))
    }

    /// Decodes the 6-byte `mac` column.
    pub fn from_bytes(bytes: &[u8]) -> Result<Mac, IdError> {
        let array: [u8; 6] = bytes
            .try_into()
            .map_err(|_| IdError::BadLength(bytes.len()))?;
        Ok(Mac(array))
    }

    /// The six raw bytes, as stored in the `mac` column.
    pub fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// The canonical text form: 12 lowercase hex digits, no separators.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The 5th hex digit (index 4), which selects the shard: the low nibble of byte 2.
    pub(crate) fn shard_nibble(&self) -> u8 {
        self.0[2] >> 4
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Mac(<redacted>)")
    }
}

impl Serialize for Mac {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Mac {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Mac::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The identity of a cell location area (LAC for GSM/WCDMA, TAC for LTE and NR).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellAreaId {
    radio: Radio,
    mcc: u16,
    mnc: u16,
    lac: u32,
}

/// Largest area code of the reference layout (16 bits).
const MAX_LAC_NARROW: u32 = u16::MAX as u32;
/// Largest NR tracking area code (24 bits).
const MAX_LAC_WIDE: u32 = (1 << 24) - 1;
/// Largest cell id of the reference layout (32 bits).
const MAX_CID_NARROW: u64 = u32::MAX as u64;
/// Largest NR cell identity (36 bits).
const MAX_CID_WIDE: u64 = (1 << 36) - 1;

impl CellAreaId {
    /// Builds an area id; the area code must fit the radio's layout (16 bits, or 24 for NR).
    pub fn new(radio: Radio, mcc: u16, mnc: u16, lac: u32) -> Result<CellAreaId, IdError> {
        let max = if radio.is_wide() {
            MAX_LAC_WIDE
        } else {
            MAX_LAC_NARROW
        };
        if lac > max {
            return Err(IdError::OutOfRange {
                field: "lac",
                value: u64::from(lac),
            });
        }
        Ok(CellAreaId {
            radio,
            mcc,
            mnc,
            lac,
        })
    }

    /// The radio.
    pub fn radio(&self) -> Radio {
        self.radio
    }
    /// Mobile country code.
    pub fn mcc(&self) -> u16 {
        self.mcc
    }
    /// Mobile network code.
    pub fn mnc(&self) -> u16 {
        self.mnc
    }
    /// Location / tracking area code.
    pub fn lac(&self) -> u32 {
        self.lac
    }

    /// The binary `areaid`: 7 bytes, or 8 for NR.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8);
        out.push(self.radio.code().to_be_bytes()[0]);
        out.extend_from_slice(&self.mcc.to_be_bytes());
        out.extend_from_slice(&self.mnc.to_be_bytes());
        if self.radio.is_wide() {
            out.extend_from_slice(&self.lac.to_be_bytes()[1..]);
        } else {
            out.extend_from_slice(&(self.lac as u16).to_be_bytes());
        }
        out
    }

    /// Decodes a binary `areaid`.
    pub fn from_bytes(bytes: &[u8]) -> Result<CellAreaId, IdError> {
        let (radio, rest) = split_radio(bytes)?;
        let expected = if radio.is_wide() { 7 } else { 6 };
        if rest.len() != expected {
            return Err(IdError::BadLength(bytes.len()));
        }
        let mcc = u16::from_be_bytes([rest[0], rest[1]]);
        let mnc = u16::from_be_bytes([rest[2], rest[3]]);
        let lac = be_uint(&rest[4..]) as u32;
        CellAreaId::new(radio, mcc, mnc, lac)
    }
}

impl fmt::Debug for CellAreaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CellAreaId({} {}/{} <redacted>)",
            self.radio, self.mcc, self.mnc
        )
    }
}

/// The full identity of a cell.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellId {
    area: CellAreaId,
    cid: u64,
}

impl CellId {
    /// Builds a cell id; `lac` and `cid` must fit the radio's layout
    /// (16/32 bits, or 24/36 bits for NR).
    pub fn new(radio: Radio, mcc: u16, mnc: u16, lac: u32, cid: u64) -> Result<CellId, IdError> {
        let area = CellAreaId::new(radio, mcc, mnc, lac)?;
        let max = if radio.is_wide() {
            MAX_CID_WIDE
        } else {
            MAX_CID_NARROW
        };
        if cid > max {
            return Err(IdError::OutOfRange {
                field: "cid",
                value: cid,
            });
        }
        Ok(CellId { area, cid })
    }

    /// The location area this cell belongs to.
    pub fn area(&self) -> CellAreaId {
        self.area
    }
    /// The radio.
    pub fn radio(&self) -> Radio {
        self.area.radio
    }
    /// Mobile country code.
    pub fn mcc(&self) -> u16 {
        self.area.mcc
    }
    /// Mobile network code.
    pub fn mnc(&self) -> u16 {
        self.area.mnc
    }
    /// Location / tracking area code.
    pub fn lac(&self) -> u32 {
        self.area.lac
    }
    /// Cell id (NR: the NR cell identity).
    pub fn cid(&self) -> u64 {
        self.cid
    }

    /// The binary `cellid`: 11 bytes, or 13 for NR.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.area.to_bytes();
        if self.area.radio.is_wide() {
            out.extend_from_slice(&self.cid.to_be_bytes()[3..]);
        } else {
            out.extend_from_slice(&(self.cid as u32).to_be_bytes());
        }
        out
    }

    /// Decodes a binary `cellid`.
    pub fn from_bytes(bytes: &[u8]) -> Result<CellId, IdError> {
        let (radio, _) = split_radio(bytes)?;
        let (area_len, total) = if radio.is_wide() { (8, 13) } else { (7, 11) };
        if bytes.len() != total {
            return Err(IdError::BadLength(bytes.len()));
        }
        let area = CellAreaId::from_bytes(&bytes[..area_len])?;
        let cid = be_uint(&bytes[area_len..]);
        CellId::new(area.radio, area.mcc, area.mnc, area.lac, cid)
    }
}

impl fmt::Debug for CellId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CellId({} {}/{} <redacted>)",
            self.area.radio, self.area.mcc, self.area.mnc
        )
    }
}

fn split_radio(bytes: &[u8]) -> Result<(Radio, &[u8]), IdError> {
    let (&first, rest) = bytes.split_first().ok_or(IdError::BadLength(0))?;
    let code = i8::from_be_bytes([first]);
    let radio = Radio::from_code(code).ok_or(IdError::UnknownRadio(code))?;
    Ok((radio, rest))
}

/// Big-endian unsigned integer of up to 8 bytes.
fn be_uint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parsing_normalises_separators_and_case() {
        for text in ["01:23:45:67:89:AB", "01-23-45-67-89-ab", "0123.4567.89ab"] {
            assert_eq!(Mac::parse(text).unwrap().to_hex(), "0123456789ab");
        }
    }

    #[test]
    fn mac_parsing_rejects_bad_and_reserved_values() {
        for text in [
            " 0123456789ab",
            "0123456789abc",
            "0123456789ag",
            "000000000000",
            "ffffffffffff",
            "FF:FF:FF:FF:FF:FF",
            "01005E901000",
            "",
            "0123456789a",
        ] {
            assert_eq!(Mac::parse(text), Err(IdError::InvalidMac), "{text:?}");
        }
    }

    #[test]
    fn mac_debug_is_redacted_and_serde_uses_hex() {
        let mac = Mac::parse("a82066123456").unwrap();
        assert_eq!(format!("{mac:?}"), "Mac(<redacted>)");
        assert_eq!(serde_json::to_string(&mac).unwrap(), "\"a82066123456\"");
        let back: Mac = serde_json::from_str("\"A8:20:66:12:34:56\"").unwrap();
        assert_eq!(back, mac);
        assert_eq!(Mac::from_bytes(mac.as_bytes()).unwrap(), mac);
        assert!(Mac::from_bytes(&[1, 2, 3]).is_err());
    }

    #[test]
    fn legacy_cell_id_matches_reference_layout() {
        let cell = CellId::new(Radio::Lte, 262, 1, 0xABCD, 0x0102_0304).unwrap();
        let bytes = cell.to_bytes();
        assert_eq!(
            bytes,
            [
                3, 0x01, 0x06, 0x00, 0x01, 0xAB, 0xCD, 0x01, 0x02, 0x03, 0x04
            ]
        );
        assert_eq!(CellId::from_bytes(&bytes).unwrap(), cell);
        assert_eq!(cell.area().to_bytes(), bytes[..7]);
        assert_eq!(
            CellAreaId::from_bytes(&bytes[..7]).unwrap(),
            cell.area(),
            "the area id is the prefix of the cell id"
        );
    }

    #[test]
    fn gsm_cell_id_starts_with_zero_byte() {
        let cell = CellId::new(Radio::Gsm, 234, 30, 1, 2).unwrap();
        assert_eq!(cell.to_bytes(), [0, 0, 234, 0, 30, 0, 1, 0, 0, 0, 2]);
    }

    #[test]
    fn nr_ids_use_the_wide_layout() {
        let nci = (1u64 << 36) - 1;
        let cell = CellId::new(Radio::Nr, 310, 260, 0xFF_FFFF, nci).unwrap();
        let bytes = cell.to_bytes();
        assert_eq!(bytes.len(), 13);
        assert_eq!(bytes[0], 4);
        assert_eq!(&bytes[5..8], &[0xFF, 0xFF, 0xFF]);
        assert_eq!(&bytes[8..], &[0x0F, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(CellId::from_bytes(&bytes).unwrap(), cell);
        assert_eq!(cell.area().to_bytes(), bytes[..8]);
        assert_eq!(
            CellAreaId::from_bytes(&bytes[..8]).unwrap().lac(),
            0xFF_FFFF
        );
    }

    #[test]
    fn out_of_range_components_are_rejected() {
        assert!(CellId::new(Radio::Lte, 262, 1, 70_000, 1).is_err());
        assert!(CellId::new(Radio::Lte, 262, 1, 1, 1 << 32).is_err());
        assert!(CellId::new(Radio::Nr, 262, 1, 1 << 24, 1).is_err());
        assert!(CellId::new(Radio::Nr, 262, 1, 70_000, 1 << 36).is_err());
        assert!(CellId::new(Radio::Nr, 262, 1, 70_000, (1 << 36) - 1).is_ok());
    }

    #[test]
    fn malformed_binary_ids_are_rejected() {
        assert_eq!(CellId::from_bytes(&[]), Err(IdError::BadLength(0)));
        assert_eq!(
            CellId::from_bytes(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(IdError::UnknownRadio(1))
        );
        assert_eq!(
            CellId::from_bytes(&[4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(IdError::BadLength(11)),
            "an NR id must be 13 bytes"
        );
        assert_eq!(
            CellAreaId::from_bytes(&[3, 0, 0, 0, 0, 0, 0, 0]),
            Err(IdError::BadLength(8))
        );
    }

    #[test]
    fn cell_debug_hides_lac_and_cid() {
        let cell = CellId::new(Radio::Wcdma, 262, 2, 4567, 891_011).unwrap();
        let text = format!("{cell:?}");
        assert!(!text.contains("4567") && !text.contains("891011"), "{text}");
    }
}

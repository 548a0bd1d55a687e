//! Many strings as one: their concatenation plus each one's length in UTF-16 code units (what a
//! JS `string.length` and `slice` count). Crossing the napi boundary as one string and one typed
//! array costs a fraction of an array of strings, whose every element is a separate V8 call.

/// Length marker of an absent value (a miss, or an item that failed).
pub const ABSENT: i32 = -1;

use std::ops::Range;

/// The UTF-16 length of `text`: its byte length when ASCII, as nearly every cached value is.
pub fn utf16_len(text: &str) -> usize {
    if text.is_ascii() {
        text.len()
    } else {
        text.encode_utf16().count()
    }
}

/// Appends values to one text, recording each one's UTF-16 length (`ABSENT` for `None`).
#[derive(Debug, Default)]
pub struct Packer {
    pub text: String,
    pub lengths: Vec<i32>,
}

impl Packer {
    pub fn with_capacity(items: usize) -> Packer {
        Packer::with_capacities(items, 0)
    }

    /// For `items` values of `bytes` bytes together: the text is not grown while packing.
    pub fn with_capacities(items: usize, bytes: usize) -> Packer {
        Packer {
            text: String::with_capacity(bytes),
            lengths: Vec::with_capacity(items),
        }
    }

    /// Appends stored bytes; bytes that are not UTF-8 (never written by this package) have their
    /// invalid sequences replaced by U+FFFD, as everywhere else values become JS strings.
    pub fn push(&mut self, value: Option<&[u8]>) {
        let Some(bytes) = value else {
            self.lengths.push(ABSENT);
            return;
        };
        // `from_utf8` first: it checks a word at a time, the lossy walk a sequence at a time.
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(bytes),
        };
        // A single value is bounded by Redis's 512 MB limit, so it fits an i32 of UTF-16 units
        // only up to 2^31 - 1; larger ones cannot be a JS string anyway.
        self.lengths
            .push(i32::try_from(utf16_len(&text)).unwrap_or(i32::MAX));
        self.text.push_str(&text);
    }
}

/// Splits `joined` into pieces of the given UTF-16 lengths; `None` when they do not add up or a
/// cut falls inside a surrogate pair.
pub fn split_utf16<'a>(joined: &'a str, lengths: &[u32]) -> Option<Vec<&'a str>> {
    Some(
        utf16_ranges(joined, lengths)?
            .into_iter()
            .map(|range| &joined[range])
            .collect(),
    )
}

/// The byte ranges of `split_utf16`'s pieces, for slicing a shared buffer without copying.
pub fn utf16_ranges(joined: &str, lengths: &[u32]) -> Option<Vec<Range<usize>>> {
    let mut ranges = Vec::with_capacity(lengths.len());
    if joined.is_ascii() {
        let mut at = 0usize;
        for &len in lengths {
            let end = at.checked_add(len as usize)?;
            if end > joined.len() {
                return None;
            }
            ranges.push(at..end);
            at = end;
        }
        return (at == joined.len()).then_some(ranges);
    }
    let mut chars = joined.char_indices();
    let mut byte_at = 0usize;
    for &len in lengths {
        let start = byte_at;
        let mut units = 0u32;
        while units < len {
            let (index, c) = chars.next()?;
            units += c.len_utf16() as u32;
            byte_at = index + c.len_utf8();
        }
        if units != len {
            return None;
        }
        ranges.push(start..byte_at);
    }
    chars.next().is_none().then_some(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_values_and_misses_with_utf16_lengths() {
        let mut p = Packer::with_capacity(4);
        p.push(Some(b"{\"a\":1}"));
        p.push(None);
        p.push(Some("é😀".as_bytes()));
        p.push(Some(b""));
        assert_eq!(p.text, "{\"a\":1}é😀");
        assert_eq!(p.lengths, vec![7, ABSENT, 3, 0]);
    }

    #[test]
    fn invalid_utf8_is_replaced_and_measured_after_replacement() {
        let mut p = Packer::default();
        p.push(Some(&[b'a', 0xff, b'b']));
        assert_eq!(p.text, "a\u{fffd}b");
        assert_eq!(p.lengths, vec![3]);
    }

    #[test]
    fn splits_ascii_and_non_ascii_by_utf16_lengths() {
        assert_eq!(
            split_utf16("abcde", &[2, 0, 3]),
            Some(vec!["ab", "", "cde"])
        );
        assert_eq!(
            split_utf16("k:é😀x", &[3, 2, 1]),
            Some(vec!["k:é", "😀", "x"])
        );
    }

    #[test]
    fn refuses_lengths_that_do_not_add_up_or_cut_a_surrogate_pair() {
        assert_eq!(split_utf16("abc", &[2]), None);
        assert_eq!(split_utf16("abc", &[2, 2]), None);
        assert_eq!(split_utf16("😀", &[1, 1]), None);
        assert_eq!(split_utf16("é😀", &[2]), None);
    }

    #[test]
    fn round_trips_what_it_packs() {
        let values = ["plain", "", "ünïcödé", "😀😀", "{\"k\":[1,2]}"];
        let mut p = Packer::default();
        for v in values {
            p.push(Some(v.as_bytes()));
        }
        let lengths: Vec<u32> = p.lengths.iter().map(|&l| l as u32).collect();
        assert_eq!(split_utf16(&p.text, &lengths), Some(values.to_vec()));
    }
}

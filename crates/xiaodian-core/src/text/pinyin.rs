//! Pinyin: the readings of Chinese characters (from the `pinyin` crate's data), the table of
//! syllables, and the cutting of typed letters into syllables.
//!
//! A reading is toneless and ASCII: ü is written `v` (as pinyin keyboards take it: 女 `nv`),
//! ê is `e`. A character's readings come first the most common, then its other readings
//! (heteronyms: 长 `chang`, `zhang`), without repeats. The syllables are every reading of a
//! character of the CJK Unified Ideographs block that has a vowel (the interjections m, n,
//! ng, hm, hng are left out: typed letters are never cut into them). The pure-Python twin is
//! `xiaodian.reference.pinyin`, which takes its readings from `pypinyin`; the two agree on
//! every character (a test compares them).

use std::collections::HashMap;
use std::sync::OnceLock;

use pinyin::ToPinyinMulti;

/// Longest syllable, in letters (`zhuang`, `shuang`, `chuang`).
pub const MAX_SYLLABLE_LETTERS: usize = 6;
/// Most syllable cuts of one run of letters that are kept ([`cuts`]).
pub const MAX_CUTS: usize = 4;

/// A syllable's number in [`syllables`] (alphabetical order).
pub type SyllableId = u16;

struct Table {
    /// Alphabetical.
    syllables: Vec<&'static str>,
    ids: HashMap<&'static str, SyllableId>,
}

fn ascii_reading(plain: &'static str) -> String {
    plain.replace('ü', "v").replace('ê', "e")
}

fn has_vowel(syllable: &str) -> bool {
    syllable.bytes().any(|b| b"aeiouv".contains(&b))
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut all: Vec<String> = Vec::new();
        for code in 0x4E00..=0x9FFFu32 {
            let Some(multi) = char::from_u32(code).and_then(|c| c.to_pinyin_multi()) else {
                continue;
            };
            for reading in multi {
                let ascii = ascii_reading(reading.plain());
                if ascii.bytes().all(|b| b.is_ascii_lowercase()) && has_vowel(&ascii) {
                    all.push(ascii);
                }
            }
        }
        all.sort_unstable();
        all.dedup();
        let syllables: Vec<&'static str> = all
            .into_iter()
            .map(|s| &*Box::leak(s.into_boxed_str()))
            .collect();
        let ids = syllables
            .iter()
            .enumerate()
            .map(|(i, &s)| (s, i as SyllableId))
            .collect();
        Table { syllables, ids }
    })
}

/// Every syllable, alphabetical.
pub fn syllables() -> &'static [&'static str] {
    &table().syllables
}

/// The number of a syllable, if it is one.
pub fn syllable_id(syllable: &str) -> Option<SyllableId> {
    table().ids.get(syllable).copied()
}

/// The syllable of a number from [`syllable_id`].
pub fn syllable(id: SyllableId) -> &'static str {
    table().syllables[id as usize]
}

/// The readings of a character, most common first, as syllable numbers; empty for a
/// character without one (not Chinese, or only read as an interjection).
pub fn readings(c: char) -> Vec<SyllableId> {
    let Some(multi) = c.to_pinyin_multi() else {
        return Vec::new();
    };
    let mut out: Vec<SyllableId> = Vec::new();
    for reading in multi {
        if let Some(id) = syllable_id(&ascii_reading(reading.plain())) {
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    out
}

/// The ways `letters` (lowercase ASCII) is read as syllables, at most [`MAX_CUTS`]: the cuts
/// into the fewest syllables first, then those whose syllables are longer earlier (`xian` is
/// `xian` before `xi an`; `fangan` is `fang an` before `fan gan`). Empty when the letters are
/// no run of syllables.
pub fn cuts(letters: &str) -> Vec<Vec<SyllableId>> {
    let bytes = letters.as_bytes();
    let n = bytes.len();
    if n == 0 || !bytes.iter().all(u8::is_ascii_lowercase) {
        return Vec::new();
    }
    // ends[i]: the syllables that start at letter i and leave a cuttable rest, longest first.
    // fewest[i]: the fewest syllables of letters[i..] (None: it cannot be cut).
    let mut fewest: Vec<Option<usize>> = vec![None; n + 1];
    fewest[n] = Some(0);
    let mut ends: Vec<Vec<usize>> = vec![Vec::new(); n + 1];
    for i in (0..n).rev() {
        for len in (1..=MAX_SYLLABLE_LETTERS.min(n - i)).rev() {
            if syllable_id(&letters[i..i + len]).is_some() {
                if let Some(rest) = fewest[i + len] {
                    ends[i].push(i + len);
                    fewest[i] = Some(fewest[i].map_or(rest + 1, |f: usize| f.min(rest + 1)));
                }
            }
        }
    }
    if fewest[0].is_none() {
        return Vec::new();
    }
    // Depth-first, longest syllable first, gathering enough cuts to pick the best few.
    let mut found: Vec<Vec<usize>> = Vec::new();
    let mut path: Vec<usize> = Vec::new();
    fn walk(
        at: usize,
        ends: &[Vec<usize>],
        path: &mut Vec<usize>,
        found: &mut Vec<Vec<usize>>,
        n: usize,
    ) {
        if found.len() >= 64 {
            return;
        }
        if at == n {
            found.push(path.clone());
            return;
        }
        for &end in &ends[at] {
            path.push(end);
            walk(end, ends, path, found, n);
            path.pop();
        }
    }
    walk(0, &ends, &mut path, &mut found, n);
    // Fewest syllables first; then longer syllables earlier (the larger first end wins).
    found.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| b.cmp(a)));
    found
        .into_iter()
        .take(MAX_CUTS)
        .map(|path| {
            let mut start = 0;
            path.into_iter()
                .map(|end| {
                    let id = syllable_id(&letters[start..end]).expect("cut into syllables");
                    start = end;
                    id
                })
                .collect()
        })
        .collect()
}

/// Syllables run together as one types them (`yangrong`).
pub fn spelled(ids: &[SyllableId]) -> String {
    ids.iter().map(|&id| syllable(id)).collect()
}

/// The initial of a syllable as pinyin keyboards take it: its first letter (`zh` is `z`).
pub fn initial(id: SyllableId) -> u8 {
    syllable(id).as_bytes()[0]
}

/// The full-pinyin spellings of Han text, one syllable number per character, for each
/// combination of its characters' readings (the first readings first), at most `cap`; empty
/// when a character has no reading.
pub fn spellings(text: &str, cap: usize) -> Vec<Vec<SyllableId>> {
    let mut out: Vec<Vec<SyllableId>> = vec![Vec::new()];
    for c in text.chars() {
        let options = readings(c);
        if options.is_empty() {
            return Vec::new();
        }
        let mut next = Vec::with_capacity(cap);
        'combos: for spelling in &out {
            for &r in &options {
                if next.len() == cap {
                    break 'combos;
                }
                let mut longer = spelling.clone();
                longer.push(r);
                next.push(longer);
            }
        }
        out = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spelled(ids: &[SyllableId]) -> Vec<&'static str> {
        ids.iter().map(|&id| syllable(id)).collect()
    }

    #[test]
    fn the_table_has_the_syllables_and_no_interjections() {
        let all = syllables();
        assert!((380..=430).contains(&all.len()), "{}", all.len());
        for s in ["yang", "rong", "zhuang", "nv", "lve", "er", "a"] {
            assert!(syllable_id(s).is_some(), "{s}");
        }
        for s in ["m", "n", "ng", "hm", "hng", "v", "iphone"] {
            assert!(syllable_id(s).is_none(), "{s}");
        }
    }

    #[test]
    fn readings_come_most_common_first_and_write_u_umlaut_as_v() {
        assert_eq!(spelled(&readings('羊')), ["yang"]);
        assert_eq!(spelled(&readings('女'))[0], "nv");
        let long = spelled(&readings('长'));
        assert!(
            long.contains(&"chang") && long.contains(&"zhang"),
            "{long:?}"
        );
        assert!(readings('a').is_empty() && readings('，').is_empty());
    }

    #[test]
    fn letters_are_cut_into_the_fewest_syllables_longest_first() {
        let cut = |s: &str| -> Vec<Vec<&str>> { cuts(s).iter().map(|c| spelled(c)).collect() };
        assert_eq!(cut("yangrong")[0], ["yang", "rong"]);
        assert_eq!(cut("xian")[0], ["xian"]);
        assert_eq!(cut("xian")[1], ["xi", "an"]);
        assert_eq!(cut("fangan")[0], ["fang", "an"]);
        assert_eq!(cut("yangrongweijin")[0], ["yang", "rong", "wei", "jin"]);
        assert!(cut("iphone").is_empty() && cut("yr").is_empty() && cut("").is_empty());
        assert!(cuts("yangrong").len() <= MAX_CUTS);
    }

    #[test]
    fn spellings_combine_every_reading_up_to_the_cap() {
        let s = spellings("长羊", 16);
        assert_eq!(s.len(), readings('长').len());
        assert_eq!(s[0], [readings('长')[0], readings('羊')[0]]);
        assert!(s.iter().any(|x| spelled(x) == ["chang", "yang"]));
        assert_eq!(spellings("长长长长长", 4).len(), 4);
        assert!(spellings("羊a", 4).is_empty());
        assert_eq!(initial(syllable_id("zhang").unwrap()), b'z');
    }
}

//! Redis glob matching (`stringmatchlen` in Redis's util.c), byte for byte, so that KEYS and
//! SCAN MATCH select exactly the keys a Redis server would.

/// Beyond this depth of `*` recursion Redis gives up and reports no match.
const MAX_NESTING: usize = 1000;

pub fn matches(pattern: &[u8], string: &[u8]) -> bool {
    let mut skip_longer = false;
    match_impl(pattern, string, &mut skip_longer, 0)
}

fn match_impl(mut p: &[u8], mut s: &[u8], skip_longer: &mut bool, nesting: usize) -> bool {
    if nesting > MAX_NESTING {
        return false;
    }
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if match_impl(&p[1..], s, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s = &s[1..];
                }
                // The rest of the pattern matches nowhere in the rest of the string, so a longer
                // match for an earlier `*` cannot help either: stop the whole search.
                *skip_longer = true;
                return false;
            }
            b'?' => s = &s[1..],
            b'[' => {
                p = &p[1..];
                let negate = p.first() == Some(&b'^');
                if negate {
                    p = &p[1..];
                }
                let c = s[0];
                let mut matched = false;
                loop {
                    match p {
                        [b'\\', escaped, ..] => {
                            p = &p[1..];
                            if *escaped == c {
                                matched = true;
                            }
                        }
                        [b']', ..] => break,
                        // An unclosed class ends with the pattern; step back so that the common
                        // advance below lands exactly on the end.
                        [] => break,
                        [start, b'-', end, ..] => {
                            // Redis compares range ends as C `char`, signed on x86-64: bytes
                            // from 0x80 sort below ASCII, so match it byte for byte.
                            let (start, end, c) = (*start as i8, *end as i8, c as i8);
                            let (lo, hi) = if start > end {
                                (end, start)
                            } else {
                                (start, end)
                            };
                            p = &p[2..];
                            if (lo..=hi).contains(&c) {
                                matched = true;
                            }
                        }
                        [other, ..] => {
                            if *other == c {
                                matched = true;
                            }
                        }
                    }
                    p = &p[1..];
                }
                if matched == negate {
                    return false;
                }
                s = &s[1..];
            }
            _ => {
                if p[0] == b'\\' && p.len() >= 2 {
                    p = &p[1..];
                }
                if p[0] != s[0] {
                    return false;
                }
                s = &s[1..];
            }
        }
        // An unclosed class has already consumed the whole pattern.
        if !p.is_empty() {
            p = &p[1..];
        }
        if s.is_empty() {
            while p.first() == Some(&b'*') {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

#[cfg(test)]
mod signed_range_tests {
    use super::*;

    #[test]
    fn ranges_compare_bytes_as_signed_like_redis_on_x86_64() {
        // As redis-server 7.0 answers on x86-64: [a-\xff] is the signed range -1..=97.
        assert!(matches(b"k:[a-\xff]", b"k:a"));
        assert!(!matches(b"k:[a-\xff]", b"k:b"));
        assert!(!matches(b"k:[a-\xff]", b"k:\xe9"));
        // [\x80-a] is -128..=97: it holds \xe9 (-23).
        assert!(matches(b"k:[\x80-a]", b"k:\xe9"));
        assert!(matches(b"k:[\x80-a]", b"k:a"));
        assert!(!matches(b"k:[\x80-a]", b"k:b"));
        assert!(matches(b"k:[a-c]", b"k:b"));
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    fn m(p: &str, s: &str) -> bool {
        matches(p.as_bytes(), s.as_bytes())
    }

    #[test]
    fn literals_and_wildcards() {
        assert!(m("hello", "hello"));
        assert!(!m("hello", "hell"));
        assert!(!m("hell", "hello"));
        // Redis's matcher never matches an empty string (KEYS and SCAN special-case "*").
        assert!(!m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("h*o", "hello"));
        assert!(m("h*o", "ho"));
        assert!(!m("h*o", "hola"));
        assert!(m("user:*", "user:42"));
        assert!(!m("user:*", "session:42"));
        assert!(m("h?llo", "hallo"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("**a**", "bab"));
        assert!(m("a*", "a"));
        assert!(m("a**", "a"));
        assert!(!m("?", ""));
        assert!(!m("", "a"));
        assert!(m("", ""));
        assert!(m("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!m("*a*b*c*", "xxaxxcxxbxx"));
    }

    #[test]
    fn classes() {
        assert!(m("h[ae]llo", "hello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(!m("h[a-b]llo", "hcllo"));
        // Reversed ranges are swapped, as Redis does.
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("[\\]]", "]"));
        assert!(m("[a\\-z]", "-"));
        assert!(!m("[a\\-z]", "b"));
        // An unclosed class runs to the end of the pattern.
        assert!(m("a[bc", "ab"));
        assert!(m("a[bc", "ac"));
        assert!(!m("a[bc", "ad"));
        assert!(!m("a[bc", "abc"));
    }

    #[test]
    fn escapes() {
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("a\\?", "a?"));
        assert!(!m("a\\?", "ab"));
        // A trailing backslash matches itself.
        assert!(m("a\\", "a\\"));
    }

    #[test]
    fn binary_and_pathological() {
        assert!(matches(b"\xff*", b"\xff\x00\x01"));
        let pattern = "*a".repeat(30) + "b";
        let string = "a".repeat(60);
        assert!(!m(&pattern, &string));
    }
}

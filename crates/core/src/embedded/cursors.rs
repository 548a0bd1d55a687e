//! SCAN cursors. The keyspace is ordered, so a cursor only needs the last key it examined; the
//! table maps small opaque ids to those keys. It is bounded: a client that abandons scans cannot
//! grow it, and a cursor evicted after `CAPACITY` newer ones answers "invalid cursor".

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

const CAPACITY: usize = 1024;

#[derive(Debug)]
pub(crate) struct ScanCursors {
    next_id: u64,
    last_key: HashMap<u64, Bytes>,
    /// The reverse map, so that repeating a SCAN call answers the same cursor, as Redis does.
    by_key: HashMap<Bytes, u64>,
    issued: VecDeque<u64>,
}

impl Default for ScanCursors {
    fn default() -> Self {
        ScanCursors {
            // 0 is the cursor that starts and ends a scan.
            next_id: 1,
            last_key: HashMap::new(),
            by_key: HashMap::new(),
            issued: VecDeque::new(),
        }
    }
}

impl ScanCursors {
    /// The key after which the scan `id` resumes. Cursors stay valid after use, so a client may
    /// repeat a SCAN call, as it can against Redis.
    pub(crate) fn resume(&self, id: u64) -> Option<&Bytes> {
        self.last_key.get(&id)
    }

    pub(crate) fn issue(&mut self, last_key: Bytes) -> u64 {
        if let Some(&id) = self.by_key.get(&last_key) {
            // Still in use: move it to the young end so that it is evicted last.
            self.issued.retain(|&i| i != id);
            self.issued.push_back(id);
            return id;
        }
        let id = self.next_id;
        self.next_id = self.next_id.checked_add(1).unwrap_or(1);
        self.last_key.insert(id, last_key.clone());
        self.by_key.insert(last_key, id);
        self.issued.push_back(id);
        while self.issued.len() > CAPACITY {
            if let Some(old) = self.issued.pop_front() {
                if let Some(key) = self.last_key.remove(&old) {
                    self.by_key.remove(&key);
                }
            }
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_start_at_one_and_the_oldest_are_evicted() {
        let mut cursors = ScanCursors::default();
        let first = cursors.issue(Bytes::from("a"));
        assert_eq!(first, 1);
        assert_eq!(cursors.resume(first), Some(&Bytes::from("a")));
        for i in 0..CAPACITY {
            cursors.issue(Bytes::from(i.to_string()));
        }
        assert_eq!(cursors.resume(first), None);
        assert_eq!(cursors.resume(2), Some(&Bytes::from("0")));
        assert_eq!(cursors.last_key.len(), CAPACITY);
        assert_eq!(cursors.by_key.len(), CAPACITY);
        assert_eq!(cursors.resume(0), None);
    }

    #[test]
    fn the_same_resume_key_gets_the_same_id_and_stays_young() {
        let mut cursors = ScanCursors::default();
        let id = cursors.issue(Bytes::from("k"));
        for i in 0..CAPACITY - 1 {
            cursors.issue(Bytes::from(i.to_string()));
        }
        assert_eq!(cursors.issue(Bytes::from("k")), id);
        cursors.issue(Bytes::from("one more"));
        assert_eq!(cursors.resume(id), Some(&Bytes::from("k")));
        assert_eq!(cursors.resume(2), None);
    }
}

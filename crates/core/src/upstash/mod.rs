//! The Upstash REST backend (in progress).

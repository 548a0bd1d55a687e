//! napi exposure of the rest-server (in progress).

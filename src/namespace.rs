//! `Namespace`: which key family a single-value call addresses.

use digis_redis_core::{features::Target, packed};
use napi_derive::napi;

use crate::batch::packing_error;
use crate::js_error::{self, Code};

/// Which key family a single-value call addresses; the key itself is built in Rust.
#[napi]
#[derive(Clone, Copy)]
pub enum Namespace {
    /// `cache.*`: the key exactly as given.
    Raw,
    Session,
    User,
    Creator,
    /// `creator:list`; the id is ignored.
    CreatorList,
    ActiveStream,
    Otp,
    /// A creator's availability (`{creator:<id>}:status`).
    CreatorStatus,
    /// `token:<id>`.
    TokenBalance,
}

pub fn target(ns: Namespace, id: String) -> Target {
    match ns {
        Namespace::Raw => Target::Raw(id),
        Namespace::Session => Target::Session(id),
        Namespace::User => Target::User(id),
        Namespace::Creator => Target::Creator(id),
        Namespace::CreatorList => Target::CreatorList,
        Namespace::ActiveStream => Target::ActiveStream(id),
        Namespace::Otp => Target::Otp(id),
        Namespace::CreatorStatus => Target::CreatorStatus(id),
        Namespace::TokenBalance => Target::TokenBalance(id),
    }
}

const ALL_NAMESPACES: [Namespace; 9] = [
    Namespace::Raw,
    Namespace::Session,
    Namespace::User,
    Namespace::Creator,
    Namespace::CreatorList,
    Namespace::ActiveStream,
    Namespace::Otp,
    Namespace::CreatorStatus,
    Namespace::TokenBalance,
];

/// A `Namespace` sent as its number (packed batches carry them in a Uint8Array).
fn namespace_from(n: u8) -> Result<Namespace, napi::Error<Code>> {
    ALL_NAMESPACES
        .iter()
        .copied()
        .find(|&ns| ns as u8 == n)
        .ok_or_else(|| {
            js_error::core(
                digis_redis_core::ErrorKind::InvalidArgument,
                format!("no namespace {n}"),
            )
        })
}

/// The targets of a packed batch: namespace numbers, and ids concatenated with their lengths.
pub fn packed_targets(
    namespaces: &[u8],
    ids: &str,
    id_lengths: &[u32],
) -> Result<Vec<Target>, napi::Error<Code>> {
    let pieces = packed::split_utf16(ids, id_lengths)
        .filter(|pieces| pieces.len() == namespaces.len())
        .ok_or_else(|| packing_error("ids"))?;
    namespaces
        .iter()
        .zip(pieces)
        .map(|(&ns, id)| namespace_from(ns).map(|ns| target(ns, id.to_string())))
        .collect()
}

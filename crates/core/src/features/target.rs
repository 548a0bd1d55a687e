use crate::keys;

/// The key a single-value feature call addresses. Built here so that every namespace's key
/// format lives in `keys.rs` and nowhere else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `cache.*`: the key exactly as given.
    Raw(String),
    Session(String),
    User(String),
    Creator(String),
    CreatorList,
    ActiveStream(String),
    Otp(String),
    CreatorStatus(String),
    TokenBalance(String),
}

impl Target {
    /// The key, without copying a raw key.
    pub fn into_key(self) -> String {
        match self {
            Target::Raw(key) => key,
            other => other.key(),
        }
    }

    pub fn key(&self) -> String {
        match self {
            Target::Raw(key) => key.clone(),
            Target::Session(id) => keys::session(id),
            Target::User(id) => keys::user(id),
            Target::Creator(id) => keys::creator(id),
            Target::CreatorList => keys::CREATOR_LIST.to_string(),
            Target::ActiveStream(id) => keys::active_stream(id),
            Target::Otp(id) => keys::otp(id),
            Target::CreatorStatus(id) => keys::creator_status(id),
            Target::TokenBalance(id) => keys::token_balance(id),
        }
    }
}

//! The public namespaces whose reads the near cache may answer, as `configure({ nearCache:
//! { namespaces } })` names them.

use crate::features::Target;
use crate::keys;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NearSpace {
    Cache = 0,
    Users = 1,
    Creators = 2,
    Sessions = 3,
    Tokens = 4,
}

pub const SPACES: [NearSpace; 5] = [
    NearSpace::Cache,
    NearSpace::Users,
    NearSpace::Creators,
    NearSpace::Sessions,
    NearSpace::Tokens,
];

impl NearSpace {
    pub fn name(self) -> &'static str {
        match self {
            NearSpace::Cache => "cache",
            NearSpace::Users => "users",
            NearSpace::Creators => "creators",
            NearSpace::Sessions => "sessions",
            NearSpace::Tokens => "tokens",
        }
    }

    pub fn from_name(name: &str) -> Option<NearSpace> {
        SPACES.into_iter().find(|space| space.name() == name)
    }

    /// The namespace of a single-value read, if the near cache may answer it (`cache.get`,
    /// `users.get`, `creators.get`/`getList`, `sessions.get`, `tokens.getBalance`).
    pub fn of(target: &Target) -> Option<NearSpace> {
        match target {
            Target::Raw(_) => Some(NearSpace::Cache),
            Target::User(_) => Some(NearSpace::Users),
            Target::Creator(_) | Target::CreatorList => Some(NearSpace::Creators),
            Target::Session(_) => Some(NearSpace::Sessions),
            Target::TokenBalance(_) => Some(NearSpace::Tokens),
            Target::ActiveStream(_) | Target::Otp(_) | Target::CreatorStatus(_) => None,
        }
    }

    /// What every key of the namespace starts with; `None` for `cache`, whose keys are any.
    pub(super) fn key_prefix(self) -> Option<&'static str> {
        match self {
            NearSpace::Cache => None,
            NearSpace::Users => Some(keys::USER),
            // `creator:list` too.
            NearSpace::Creators => Some(keys::CREATOR),
            NearSpace::Sessions => Some(keys::SESSION),
            NearSpace::Tokens => Some(keys::TOKEN),
        }
    }

    pub(super) fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

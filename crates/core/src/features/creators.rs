use super::{all_ok, Features, Target};
use crate::{keys, Cmd, Result};

impl Features {
    /// Deletes `creator:<id>` and `creator:list`. Two DELs in one pipeline rather than one
    /// two-key DEL, because the keys live in different cluster slots.
    pub async fn creators_invalidate(&self, id: &str) -> Result<()> {
        let cmds = vec![
            Cmd::new("DEL").arg(Target::Creator(id.to_string()).key()),
            Cmd::new("DEL").arg(keys::CREATOR_LIST),
        ];
        all_ok(self.backend.pipeline(cmds, false).await?)?;
        Ok(())
    }
}

//! Who is asking: the user behind a request, a socket or a job, as the use
//! cases see them (no token, no transport).

use crate::Role;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    pub name: String,
    pub role: Role,
    /// Parents only.
    pub family_id: Option<String>,
}

impl Caller {
    /// The caller's family, if they are a parent with one.
    pub fn parent_family(&self) -> Option<&str> {
        match self.role {
            Role::Parent => self.family_id.as_deref(),
            Role::Tutor | Role::Admin => None,
        }
    }
}
